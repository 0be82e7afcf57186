"""Every actor-checked command x every kind of actor: allowed, or `forbidden`, exactly as
the domain rules say. Allowed outcomes may still be refused for another reason (not_found...)."""

from __future__ import annotations

import pytest

from contracts.topics import (
    ACCESS_CONTROL_COMMANDS,
    ACCESS_CONTROL_EVENTS,
    INVITATIONS_COMMANDS,
    INVITATIONS_EVENTS,
    MEMBERSHIP_COMMANDS,
    MEMBERSHIP_EVENTS,
)
from tests.e2e.conftest import System
from tests.e2e.test_story import register

pytestmark = pytest.mark.faults

TEAM = {"owner-1", "admin"}
CLIENTS = {"owner-1", "admin", "cadmin"}
ACTORS = [
    "owner-1",
    "admin",
    "cadmin",
    "prac",
    "billing",
    "gone",
    "pending-user",
    "stranger",
    "owner-b",
    None,
]


async def join(system: System, account: str, user: str, roles: list[str]) -> None:
    email = f"{user}-{system.unique}@example.com"
    invite = await system.gateway.send(
        INVITATIONS_COMMANDS,
        "InviteTeamMember",
        account,
        {"email": email, "roles": roles},
        "owner-1",
    )
    created = await system.taps[INVITATIONS_EVENTS].outcome_of(invite, timeout=60)
    accept = await system.gateway.send(
        INVITATIONS_COMMANDS,
        "AcceptInvitation",
        account,
        {
            "invitation_id": created["data"]["invitation_id"],
            "token": await system.token_for(created["data"]["invitation_id"]),
            "user_id": user,
            "email": email,
        },
    )
    assert (await system.taps[INVITATIONS_EVENTS].outcome_of(accept))[
        "type"
    ] == "InvitationAccepted"
    await system.taps[MEMBERSHIP_EVENTS].wait_for(
        lambda e: e["type"] == "MemberJoined" and e["data"]["member_id"] == user
    )


async def test_the_authorisation_matrix(quick_system: System) -> None:
    system = quick_system
    account, other = f"acct-matrix-{system.unique}", f"acct-other-{system.unique}"
    await register(system, account, "owner-1", f"o1-{system.unique}@example.com")
    await register(system, other, "owner-b", f"ob-{system.unique}@example.com")
    for user, roles in (
        ("admin", ["administrator"]),
        ("cadmin", ["client_administrator"]),
        ("prac", ["practitioner"]),
        ("billing", ["billing_administrator"]),
        ("gone", ["administrator"]),
    ):
        await join(system, account, user, roles)
    # a client, so that disconnecting "gone" (an administrator) revokes something we can see
    seed = await system.gateway.send(
        ACCESS_CONTROL_COMMANDS,
        "RegisterClient",
        account,
        {"client_id": "seed", "security_tags": []},
        "owner-1",
    )
    await system.taps[ACCESS_CONTROL_EVENTS].wait_for(
        lambda e: e["causationid"] == seed, timeout=30
    )
    gone = await system.gateway.send(
        MEMBERSHIP_COMMANDS, "DisconnectMember", account, {"member_id": "gone"}, "owner-1"
    )
    disconnected = await system.taps[MEMBERSHIP_EVENTS].outcome_of(gone)
    assert disconnected["type"] == "MemberDisconnected"
    await system.taps[ACCESS_CONTROL_EVENTS].wait_for(
        lambda e: e["causationid"] == disconnected["id"], timeout=30
    )
    pending = await system.gateway.send(
        INVITATIONS_COMMANDS,
        "InviteTeamMember",
        account,
        {"email": f"pending-user-{system.unique}@example.com", "roles": ["administrator"]},
        "owner-1",
    )
    target = (await system.taps[INVITATIONS_EVENTS].outcome_of(pending))["data"]["invitation_id"]

    cases = [
        (
            INVITATIONS_COMMANDS,
            INVITATIONS_EVENTS,
            "InviteTeamMember",
            lambda a: {"email": f"x-{a}-{system.unique}@example.com", "roles": ["practitioner"]},
            TEAM,
        ),
        (
            INVITATIONS_COMMANDS,
            INVITATIONS_EVENTS,
            "ResendInvitation",
            lambda a: {"invitation_id": target},
            TEAM,
        ),
        (
            MEMBERSHIP_COMMANDS,
            MEMBERSHIP_EVENTS,
            "ChangeMemberRoles",
            lambda a: {"member_id": "nobody", "roles": ["practitioner"]},
            TEAM,
        ),
        (
            MEMBERSHIP_COMMANDS,
            MEMBERSHIP_EVENTS,
            "DisconnectMember",
            lambda a: {"member_id": "nobody"},
            TEAM,
        ),
        (
            ACCESS_CONTROL_COMMANDS,
            ACCESS_CONTROL_EVENTS,
            "RegisterClient",
            lambda a: {"client_id": f"c-{a}", "security_tags": []},
            CLIENTS,
        ),
        (
            ACCESS_CONTROL_COMMANDS,
            ACCESS_CONTROL_EVENTS,
            "SetClientSecurityTags",
            lambda a: {"client_id": "nobody", "security_tags": ["x"]},
            CLIENTS,
        ),
        (
            ACCESS_CONTROL_COMMANDS,
            ACCESS_CONTROL_EVENTS,
            "RemoveClient",
            lambda a: {"client_id": "nobody"},
            CLIENTS,
        ),
        (
            ACCESS_CONTROL_COMMANDS,
            ACCESS_CONTROL_EVENTS,
            "SetMemberSecurityTags",
            lambda a: {"member_id": "prac", "security_tags": ["x"]},
            TEAM,
        ),
        (
            INVITATIONS_COMMANDS,
            INVITATIONS_EVENTS,
            "RevokeInvitation",
            lambda a: {"invitation_id": target},
            TEAM,
        ),
    ]
    table = []
    for topic, events, type_, data, allowed in cases:
        for actor in ACTORS:
            command = await system.gateway.send(topic, type_, account, data(actor), actor)
            try:
                outcome = await system.taps[events].outcome_of(command, timeout=8)
                result = outcome["data"].get("reason", outcome["type"])
            except AssertionError:
                # A change that changes no one's visibility publishes nothing (by design).
                assert type_ == "SetMemberSecurityTags" and actor in allowed, (type_, actor)
                result = "applied, nothing to publish"
            table.append((type_, actor, result))
            assert (result == "forbidden") == (actor not in allowed), (type_, actor, result)
    print("\n".join(f"{t:24} {a!s:14} {r}" for t, a, r in table))
