"""The seed's whole story across the four services as processes, and tenant isolation."""

from __future__ import annotations

import re
from html import unescape
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from contracts import messages as m
from contracts.common import Role
from contracts.topics import (
    ACCESS_CONTROL_COMMANDS,
    ACCESS_CONTROL_EVENTS,
    MEMBERSHIP_COMMANDS,
    MEMBERSHIP_EVENTS,
    NOTIFICATIONS_EVENTS,
    PUBLIC_EVENT_TOPICS,
)
from pro_team_client import CommandRejectedError
from tests.e2e.conftest import ACCEPT_BASE, System


async def register(system: System, account: str, owner: str, owner_email: str) -> None:
    registration = m.RegisterProAccount(
        account_name=f"Clinic {account}",
        owner_user_id=owner,
        owner_email=owner_email,
        owner_name="Olive Owner",
    )
    outcome = await system.team.request(registration, account_id=account, actor_id=owner)
    command = outcome.command_id
    assert outcome.accepted().type == "ProAccountRegistered"
    await system.taps[MEMBERSHIP_EVENTS].wait_for(
        lambda e: e.get("causationid") == command and e["type"] == "MemberJoined"
    )
    # access_control knows the owner once their visible-clients answers 200 rather than 404
    await system.eventually(
        lambda: _status_is(system, f"/accounts/{account}/members/{owner}/visible-clients", 200)
    )


async def invite(
    system: System, account: str, owner: str, email: str, message: str = ""
) -> m.InvitationCreated:
    command = m.InviteTeamMember(
        email=email,
        roles=[Role.PRACTITIONER],
        message=message,
        inviter_name="Olive Owner",
        invitee_name="Ann Coach",
    )
    outcome = await system.team.request(command, account_id=account, actor_id=owner, timeout=60)
    created = outcome.accepted().data
    assert isinstance(created, m.InvitationCreated), outcome
    return created


def link_from(text: str) -> tuple[str, str, str]:
    match = re.search(
        rf"{re.escape(ACCEPT_BASE)}/accounts/([^/]+)/invitations/([^/]+)/accept\?token=(\S+)", text
    )
    assert match, "no accept link in the email"
    url = urlparse(unescape(match.group(0)))
    token = parse_qs(url.query)["token"][0]
    return match.group(1), match.group(2), token


async def test_the_whole_story(system: System) -> None:
    """Played as a gateway plays it: only through the client package (commands and their
    outcomes by causationid, the HTTP APIs, the accept page's look-up)."""
    team, api = system.team, system.api
    account, owner = f"acct-story-{system.unique}", "owner-olive"
    ann = f"ann-{system.unique}@example.com"
    await register(system, account, owner, f"olive-{system.unique}@example.com")

    # invite a practitioner with a custom message
    created = await invite(system, account, owner, ann, "Welcome aboard!\nStart Monday.")
    invitation_id = created.invitation_id
    pending = await system.eventually(lambda: _row(system, account, ann, "pending"))
    assert pending["member_id"] is None and pending["invitation_id"] == invitation_id

    # the email is in Mailpit; the accept page looks the link up, then accepts
    [summary] = await system.mailbox.wait_for(ann, timeout=60)
    email = await system.mailbox.message(summary["ID"])
    assert "Welcome aboard!" in email["Text"]
    link_account, link_invitation, token = link_from(email["Text"])
    assert (link_account, link_invitation) == (account, invitation_id)
    found = await api.look_up_invitation(link_account, link_invitation, token)
    assert found is not None
    assert (found.status.value, found.account_name) == ("pending", f"Clinic {account}")
    assert (found.inviter_name, found.roles) == ("Olive Owner", ["practitioner"])
    assert found.email_masked == f"a***@{ann.split('@')[1]}"
    assert await api.look_up_invitation(link_account, link_invitation, token + "x") is None
    accept = m.AcceptInvitation(
        invitation_id=link_invitation,
        token=token,
        user_id="user-ann",
        email=ann.upper(),
        name="Ann Coach",
    )
    accepted = await team.request(accept, account_id=account)
    assert accepted.accepted().type == "InvitationAccepted"
    again = await team.request(accept, account_id=account)  # a second press: same user
    assert again.reason == "already_accepted"
    joined = await system.taps[MEMBERSHIP_EVENTS].wait_for(
        lambda e: e["type"] == "MemberJoined" and e["data"]["member_id"] == "user-ann"
    )
    assert joined[0]["data"]["invitation_id"] == invitation_id
    active = await system.eventually(lambda: _row(system, account, ann, "active"))
    assert active["member_id"] == "user-ann"
    after = await api.look_up_invitation(account, invitation_id, token)
    assert after is not None and after.status.value == "accepted"
    await system.taps[NOTIFICATIONS_EVENTS].wait_for(
        lambda e: e["type"] == "EmailSent" and e["data"]["to"] == ann, count=2
    )

    # tag clients and the practitioner: each command answers; visible-clients is the tagged
    for client, tags in (
        ("kid-1", ["Kids"]),
        ("kid-2", ["kids", "sport"]),
        ("adult-1", ["Adults"]),
        ("plain", []),
    ):
        registered = m.RegisterClient(client_id=client, security_tags=tags)
        outcome = await team.request(registered, account_id=account, actor_id=owner)
        assert outcome.accepted().type == "ClientRegistered"
    tagged = m.SetMemberSecurityTags(member_id="user-ann", security_tags=["KIDS"])
    outcome = await team.request(tagged, account_id=account, actor_id=owner)
    assert outcome.accepted().type == "MemberSecurityTagsSet"
    assert await system.eventually(
        lambda: _visible_is(system, account, "user-ann", ["kid-1", "kid-2"])
    )
    assert await system.eventually(
        lambda: _visible_is(system, account, owner, ["adult-1", "kid-1", "kid-2", "plain"])
    )

    # resend and revoke a second invitation
    bob = f"bob-{system.unique}@example.com"
    second = (await invite(system, account, owner, bob)).invitation_id
    await system.eventually(lambda: _row(system, account, bob, "pending"))
    resend = m.ResendInvitation(invitation_id=second)
    refused = await team.request(resend, account_id=account, actor_id=owner)
    assert (refused.rejected, refused.reason) == (True, "rate_limited")
    with pytest.raises(CommandRejectedError) as rejected:
        refused.accepted()
    assert rejected.value.reason == "rate_limited"
    revoke = m.RevokeInvitation(invitation_id=second)
    revoked_outcome = await team.request(revoke, account_id=account, actor_id=owner)
    assert revoked_outcome.accepted().type == "InvitationRevoked"
    await system.eventually(lambda: _gone(system, account, bob))

    # disconnect the practitioner
    disconnect = m.DisconnectMember(member_id="user-ann")
    disconnected = (await team.request(disconnect, account_id=account, actor_id=owner)).accepted()
    assert disconnected.type == "MemberDisconnected"
    assert await system.eventually(lambda: _visible_is(system, account, "user-ann", []))
    revoked = await system.taps[ACCESS_CONTROL_EVENTS].wait_for(
        lambda e: e["type"] == "ClientVisibilityChanged" and e["causationid"] == disconnected.id
    )
    assert [e["data"]["member_id"] for e in revoked] == ["user-ann"]
    assert sorted(c for e in revoked for c in e["data"]["revoked"]) == ["kid-1", "kid-2"]
    await system.eventually(lambda: _row(system, account, ann, "disconnected"))

    # no secret on any topic the gateway (every process here but the services) may read
    for topic in PUBLIC_EVENT_TOPICS:
        assert system.taps[topic].records, f"nothing read from {topic}"
        for record in system.taps[topic].records:
            assert token.encode() not in record.value and b"accept_token" not in record.value


async def test_two_accounts_side_by_side_never_see_each_others_data(system: System) -> None:
    a, b = f"acct-a-{system.unique}", f"acct-b-{system.unique}"
    await register(system, a, "owner-a", f"oa-{system.unique}@example.com")
    await register(system, b, "owner-b", f"ob-{system.unique}@example.com")
    await invite(system, a, "owner-a", f"pa-{system.unique}@example.com")
    await invite(system, b, "owner-b", f"pb-{system.unique}@example.com")
    await system.gateway.send(
        ACCESS_CONTROL_COMMANDS,
        "RegisterClient",
        a,
        {"client_id": "client-a", "security_tags": []},
        "owner-a",
    )
    await system.gateway.send(
        ACCESS_CONTROL_COMMANDS,
        "RegisterClient",
        b,
        {"client_id": "client-b", "security_tags": []},
        "owner-b",
    )
    assert await system.eventually(lambda: _visible_is(system, a, "owner-a", ["client-a"]))
    assert await system.eventually(lambda: _visible_is(system, b, "owner-b", ["client-b"]))
    # A's owner acting on B: refused everywhere
    cross = await system.gateway.send(
        ACCESS_CONTROL_COMMANDS, "RemoveClient", b, {"client_id": "client-b"}, "owner-a"
    )
    assert (await system.taps[ACCESS_CONTROL_EVENTS].outcome_of(cross))["data"][
        "reason"
    ] == "forbidden"
    cross = await system.gateway.send(
        MEMBERSHIP_COMMANDS, "DisconnectMember", b, {"member_id": "owner-b"}, "owner-a"
    )
    assert (await system.taps[MEMBERSHIP_EVENTS].outcome_of(cross))["data"]["reason"] == "forbidden"
    users_a = {u["email"] for u in await system.users(a)}
    users_b = {u["email"] for u in await system.users(b)}
    assert users_a == {f"oa-{system.unique}@example.com", f"pa-{system.unique}@example.com"}
    assert users_b == {f"ob-{system.unique}@example.com", f"pb-{system.unique}@example.com"}
    assert await system.visible(a, "owner-b") == []  # B's owner is nobody in A


async def _row(system: System, account: str, email: str, status: str) -> dict[str, Any] | None:
    rows = [u for u in await system.users(account) if u["email"] == email and u["status"] == status]
    return rows[0] if rows else None


async def _gone(system: System, account: str, email: str) -> bool:
    return not [u for u in await system.users(account) if u["email"] == email]


async def _visible_is(system: System, account: str, member: str, expected: list[str]) -> bool:
    return await system.visible(account, member) == expected


async def _status_is(system: System, path: str, status: int) -> bool:
    return (await system.get("access_control", path)).status_code == status
