"""Every membership command and event, over the in-memory unit of work."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from contracts.envelope import derived_id
from contracts.topics import (
    INVITATIONS_EVENTS,
    MEMBERSHIP_COMMANDS,
    MEMBERSHIP_EVENTS,
    NOTIFICATIONS_EVENTS,
)
from services.membership.app import MembershipService, wire
from services.membership.store import person_key
from services.runtime.settings import ServiceSettings
from tests.collection_spy import recorded_reads
from tests.handlers.kit import InMemory, in_memory

Membership = InMemory[MembershipService]
EXPIRES = "2026-12-04T10:00:00.000Z"


@pytest.fixture
async def membership() -> Membership:
    service = in_memory(
        "membership", ServiceSettings(), wire, MEMBERSHIP_EVENTS, MEMBERSHIP_COMMANDS
    )
    command = await service.send("RegisterProAccount", registration("owner-1"))
    assert service.types(command) == ["ProAccountRegistered", "MemberJoined"]
    return service


def registration(owner: str) -> dict[str, Any]:
    return {
        "account_name": "Sunrise Health",
        "owner_user_id": owner,
        "owner_email": f"{owner}@example.com",
        "owner_name": "Olive",
    }


async def invitation_event(service: Membership, type_: str, **data: Any) -> str:
    return await service.send(type_, data, topic=INVITATIONS_EVENTS, actor=None)


async def invited(service: Membership, email: str, roles: list[str] | None = None) -> str:
    invitation_id = str(uuid.uuid4())
    await invitation_event(
        service,
        "InvitationCreated",
        invitation_id=invitation_id,
        email=email,
        roles=roles or ["practitioner"],
        invitee_name="Ann",
        inviter_id="owner-1",
        account_name="Sunrise Health",
        expires_at=EXPIRES,
    )
    return invitation_id


async def accepted(
    service: Membership, email: str, invitation_id: str, user: str, **extra: Any
) -> str:
    return await invitation_event(
        service,
        "InvitationAccepted",
        invitation_id=invitation_id,
        email=email,
        roles=extra.pop("roles", None) or ["practitioner"],
        user_id=user,
        name="Ann Coach",
        invited_by="owner-1",
        accepted_at="2026-11-28T12:00:00.000Z",
        **extra,
    )


async def join(service: Membership, user: str, roles: list[str] | None = None) -> None:
    email = f"{user}@example.com"
    await accepted(service, email, await invited(service, email, roles), user, roles=roles)


async def row(service: Membership, email: str) -> Any:
    return await service.service.store.people.get(person_key("acct-1", email))


async def test_registering_makes_the_owner_the_first_active_member(membership: Membership) -> None:
    owner = await row(membership, "owner-1@example.com")
    assert (owner.status.value, owner.member_id, [r.value for r in owner.roles]) == (
        "active",
        "owner-1",
        ["owner"],
    )
    joined = membership.published()[1]
    assert joined["data"]["invitation_id"] is None and joined["data"]["roles"] == ["owner"]


async def test_the_same_registration_is_answered_again_another_owner_is_refused(
    membership: Membership,
) -> None:
    again = await membership.send("RegisterProAccount", registration("owner-1"))
    assert membership.types(again) == ["ProAccountRegistered"]  # no second MemberJoined
    other = await membership.send("RegisterProAccount", registration("owner-2"), actor="owner-2")
    assert membership.reason(other) == "conflict"


async def test_a_redelivered_registration_publishes_nothing_new(membership: Membership) -> None:
    command = await membership.send("RegisterProAccount", registration("owner-1"))
    before = membership.published()
    await membership.send("RegisterProAccount", registration("owner-1"), message_id=command)
    after = membership.published()
    assert {e["id"] for e in after} == {e["id"] for e in before}  # no new event
    assert after[len(before) :] == [membership.caused_by(command)[0]]  # its outcome, again


async def test_invitation_events_move_one_row_through_its_states(membership: Membership) -> None:
    invitation_id = await invited(membership, "ann@example.com")
    assert (await row(membership, "ann@example.com")).status.value == "pending"
    await invitation_event(
        membership,
        "InvitationResent",
        invitation_id=invitation_id,
        email="ann@example.com",
        roles=["practitioner"],
        inviter_id="owner-1",
        account_name="Sunrise Health",
        expires_at="2026-12-10T10:00:00.000Z",
        resend_count=2,
    )
    assert (await row(membership, "ann@example.com")).resend_count == 2
    await invitation_event(
        membership, "InvitationExpired", invitation_id=invitation_id, email="ann@example.com"
    )
    assert (await row(membership, "ann@example.com")).status.value == "expired"
    await invitation_event(
        membership,
        "InvitationRevoked",
        invitation_id=invitation_id,
        email="ann@example.com",
        revoked_by="owner-1",
    )
    assert await row(membership, "ann@example.com") is None
    assert membership.published()[2:] == []  # projections of another service's events


async def test_a_new_invitees_row_and_email_status_are_written_without_a_read(
    membership: Membership,
) -> None:
    """The row of someone invited for the first time, and the status of their first email,
    are inserted unread; a row that exists is read, and decided from what it holds."""
    store = membership.service.store
    reads = recorded_reads(store.people.collection, store.emails.collection)
    ann = person_key("acct-1", "ann@example.com")

    first = await invited(membership, "ann@example.com")
    await membership.send(
        "EmailSent",
        {"cause_id": "c-1", "template": "invitation", "to": "ann@example.com", "message_id": "m"},
        topic=NOTIFICATIONS_EVENTS,
        actor=None,
    )
    assert reads == []
    assert (await store.emails.get(ann) or pytest.fail("no status")).status.value == "sent"
    reads.clear()
    await invitation_event(
        membership,
        "InvitationRevoked",
        invitation_id=first,
        email="ann@example.com",
        revoked_by="owner-1",
    )
    assert set(reads) == {ann}  # a revocation reads the row it removes
    reads.clear()
    second = await invited(membership, "ann@example.com", ["administrator"])
    assert reads == []  # the revoked row is gone: the second invitation is new again
    await join(membership, "bob")
    reads.clear()
    await invited(membership, "bob@example.com")  # an active member: the row stays
    assert reads == [person_key("acct-1", "bob@example.com")]
    person = await row(membership, "ann@example.com")
    assert (person.invitation_id, person.roles[0].value) == (second, "administrator")
    assert (await row(membership, "bob@example.com")).status.value == "active"


async def test_acceptance_joins_once_with_an_id_from_the_invitation(membership: Membership) -> None:
    invitation_id = await invited(membership, "ann@example.com", ["practitioner"])
    first = await accepted(membership, "ann@example.com", invitation_id, "u-ann")
    second = await accepted(membership, "ann@example.com", invitation_id, "u-ann")  # replayed
    joined = [e for e in membership.published() if e["type"] == "MemberJoined"][1:]
    assert len(joined) == 1
    assert joined[0]["id"] == derived_id(invitation_id, "MemberJoined")
    assert joined[0]["causationid"] == first and second != first
    person = await row(membership, "ann@example.com")
    assert (person.status.value, person.member_id) == ("active", "u-ann")


async def test_revoking_a_former_members_new_invitation_disconnects_them_again(
    membership: Membership,
) -> None:
    await join(membership, "bob")
    await membership.send("DisconnectMember", {"member_id": "bob"})
    again = await invited(membership, "bob@example.com")
    await invitation_event(
        membership,
        "InvitationRevoked",
        invitation_id=again,
        email="bob@example.com",
        revoked_by="owner-1",
    )
    assert (await row(membership, "bob@example.com")).status.value == "disconnected"


async def test_disconnect_and_change_roles(membership: Membership) -> None:
    await join(membership, "ann")
    changed = await membership.send(
        "ChangeMemberRoles", {"member_id": "ann", "roles": ["administrator"]}
    )
    event = membership.outcome(changed)
    assert event["type"] == "MemberRolesChanged"
    assert event["data"]["previous_roles"] == ["practitioner"]
    assert event["data"]["changed_by"] == "owner-1"
    gone = await membership.send("DisconnectMember", {"member_id": "ann"})
    assert membership.outcome(gone)["data"]["disconnected_by"] == "owner-1"
    assert (await row(membership, "ann@example.com")).status.value == "disconnected"
    assert (
        membership.reason(await membership.send("DisconnectMember", {"member_id": "ann"}))
        == "not_found"
    )


@pytest.mark.parametrize("verb", ["DisconnectMember", "ChangeMemberRoles"])
async def test_who_may_change_members(membership: Membership, verb: str) -> None:
    await join(membership, "prac", ["practitioner"])
    await join(membership, "admin", ["administrator"])
    await join(membership, "target", ["practitioner"])
    data: dict[str, Any] = {"member_id": "target"}
    if verb == "ChangeMemberRoles":
        data["roles"] = ["practitioner", "client_administrator"]
    for actor in ("prac", "stranger", None):
        assert membership.reason(await membership.send(verb, data, actor=actor)) == "forbidden"
    owner_data = {**data, "member_id": "owner-1"}
    assert membership.reason(await membership.send(verb, owner_data, actor="admin")) == "forbidden"
    assert (
        membership.reason(await membership.send(verb, {**data, "member_id": "nobody"}))
        == "not_found"
    )
    done = await membership.send(verb, data, actor="admin")
    assert membership.outcome(done)["type"] in ("MemberDisconnected", "MemberRolesChanged")
    assert len(membership.published()) == len({e["id"] for e in membership.published()})


async def test_a_redelivered_disconnect_is_applied_once(membership: Membership) -> None:
    await join(membership, "ann")
    command = await membership.send("DisconnectMember", {"member_id": "ann"})
    await membership.send("DisconnectMember", {"member_id": "ann"}, message_id=command)
    assert membership.types(command) == ["MemberDisconnected"]


async def test_invalid_commands_are_rejected_and_bad_events_dead_lettered(
    membership: Membership,
) -> None:
    bad = await membership.send("ChangeMemberRoles", {"member_id": "ann", "roles": ["owner"]})
    assert membership.reason(bad) == "invalid"
    await membership.raw(INVITATIONS_EVENTS, b"not json")
    await membership.send("InvitationCreated", {"email": "x"}, topic=INVITATIONS_EVENTS)
    await membership.send("SomethingNew", {}, topic=INVITATIONS_EVENTS)  # not ours: ignored
    assert len(membership.dead_letters(INVITATIONS_EVENTS)) == 2
