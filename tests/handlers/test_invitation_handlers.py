"""Every invitations command and membership event, over the in-memory unit of work."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta
from typing import Any

import pytest

from contracts.envelope import derived_id, new_id
from contracts.topics import (
    INVITATIONS_COMMANDS,
    INVITATIONS_EVENTS,
    INVITATIONS_LINKS,
    MEMBERSHIP_EVENTS,
)
from services.invitations.app import InvitationsService, wire
from services.invitations.settings import InvitationsSettings
from services.runtime.dlq import Origin
from services.runtime.service import Runtime
from tests.collection_spy import recorded_reads
from tests.handlers.kit import InMemory, in_memory

Invitations = InMemory[InvitationsService]


def make(**settings: Any) -> Invitations:
    values = InvitationsSettings(projection_grace_seconds=0, **settings)

    def wired(runtime: Runtime) -> InvitationsService:
        return wire(runtime, values)

    return in_memory("invitations", values, wired, INVITATIONS_EVENTS, INVITATIONS_COMMANDS)


async def member_event(service: Invitations, type_: str, **data: Any) -> None:
    await service.send(type_, data, topic=MEMBERSHIP_EVENTS, actor=None)


async def joined(service: Invitations, user: str, roles: list[str]) -> None:
    await member_event(
        service,
        "MemberJoined",
        member_id=user,
        email=f"{user}@example.com",
        roles=roles,
        joined_at="2026-11-28T10:00:00Z",
    )


async def registered(service: Invitations) -> Invitations:
    """The account Sunrise Health, its owner `owner-1` a member."""
    await member_event(
        service,
        "ProAccountRegistered",
        account_name="Sunrise Health",
        owner_user_id="owner-1",
        owner_email="owner-1@example.com",
    )
    await joined(service, "owner-1", ["owner"])
    return service


@pytest.fixture
async def invitations() -> Invitations:
    service = await registered(make())
    await joined(service, "admin-1", ["administrator"])
    await joined(service, "prac-1", ["practitioner"])
    return service


async def invite(service: Invitations, email: str = "ann@example.com", **extra: Any) -> str:
    actor = extra.pop("actor", "owner-1")
    data = {"email": email, "roles": ["practitioner"], **extra}
    return await service.send("InviteTeamMember", data, actor=actor)


def created(service: Invitations, command: str) -> dict[str, Any]:
    event = service.outcome(command)
    assert event["type"] in ("InvitationCreated", "InvitationResent"), event
    return event


def token_of(service: Invitations, command: str) -> str:
    [link] = service.caused_by(command, INVITATIONS_LINKS)
    return str(link["data"]["accept_token"])


async def accept(service: Invitations, invitation_id: str, token: str, **extra: Any) -> str:
    data = {
        "invitation_id": invitation_id,
        "token": token,
        "user_id": "u-ann",
        "email": "ann@example.com",
        **extra,
    }
    return await service.send("AcceptInvitation", data, actor=None)


async def test_invite_publishes_the_public_event_and_the_private_link(
    invitations: Invitations,
) -> None:
    command = await invite(invitations, message="Welcome!", inviter_name="Olive")
    event = created(invitations, command)
    data = event["data"]
    assert data["invitation_id"] == derived_id(command, "invitation")
    assert (data["account_name"], data["inviter_id"], data["message"]) == (
        "Sunrise Health",
        "owner-1",
        "Welcome!",
    )
    assert "accept_token" not in data
    [link] = invitations.caused_by(command, INVITATIONS_LINKS)
    token = link["data"]["accept_token"]
    assert len(token) >= 43 and link["data"]["resend_count"] == 0
    await invitations.service.runtime.outbox.drain(patience=5)  # the clear follows the commit
    stored = await invitations.service.store.document(data["invitation_id"])
    assert stored is not None and stored["outbox"] == []
    dump = json.dumps(stored, default=str)
    assert token not in dump and hashlib.sha256(token.encode()).hexdigest() in dump


async def test_a_redelivered_invite_creates_nothing_more(invitations: Invitations) -> None:
    command = await invite(invitations)
    await invitations.send(
        "InviteTeamMember",
        {"email": "ann@example.com", "roles": ["practitioner"]},
        message_id=command,
    )
    assert invitations.types(command) == ["InvitationCreated"]
    assert len(invitations.caused_by(command, INVITATIONS_LINKS)) == 1


async def test_a_redelivered_invite_is_answered_again_whatever_became_of_its_invitation() -> None:
    """An invite does not read its own invitation before deciding. A redelivery still gets its
    first answer again, never a refusal and never a second invitation: after the invitation
    was accepted (its email now a member), after it was revoked, when it filled the hour's
    limit, and while it is overdue but not swept yet (it stays pending: the sweeper's to
    close)."""
    service = await registered(make(invites_per_account_per_hour=3))

    async def answered_again(command: str, email: str) -> None:
        first = service.outcome(command)
        sent_before = [e["id"] for e in service.published()].count(first["id"])
        data = {"email": email, "roles": ["practitioner"]}
        await service.send("InviteTeamMember", data, message_id=command)
        assert service.types(command) == ["InvitationCreated"]
        assert [e["id"] for e in service.published()].count(first["id"]) == sent_before + 1
        assert len(service.caused_by(command, INVITATIONS_LINKS)) == 1

    accepted = await invite(service, "ann@example.com")
    ann = created(service, accepted)["data"]["invitation_id"]
    assert service.outcome(await accept(service, ann, token_of(service, accepted)))
    await joined(service, "ann", ["practitioner"])
    await answered_again(accepted, "ann@example.com")

    revoked = await invite(service, "bob@example.com")
    bob = created(service, revoked)["data"]["invitation_id"]
    assert service.outcome(await service.send("RevokeInvitation", {"invitation_id": bob}))
    await answered_again(revoked, "bob@example.com")

    last_of_the_hour = await invite(service, "cy@example.com")
    assert service.reason(await invite(service, "dee@example.com")) == "rate_limited"
    await answered_again(last_of_the_hour, "cy@example.com")

    service.clock.advance(timedelta(days=8))
    await answered_again(last_of_the_hour, "cy@example.com")
    cy = created(service, last_of_the_hour)["data"]["invitation_id"]
    assert (await service.service.store.document(cy) or {})["status"] == "pending"
    types = [e["type"] for e in {e["id"]: e for e in service.published()}.values()]
    assert (types.count("InvitationCreated"), types.count("InvitationExpired")) == (3, 0)


async def test_an_invite_reads_no_invitation_unless_the_email_has_a_pending_one(
    invitations: Invitations,
) -> None:
    """Neither its own invitation nor the email's pending one is read before the insert; the
    unique pending slot sends an invite for an email with a pending invitation to read it:
    refused while it is live, and expired first once it is overdue."""
    collection = invitations.service.store.invitations.collection
    reads = recorded_reads(collection, methods=("get", "find_unique"))
    first = await invite(invitations, "ann@example.com")
    created(invitations, await invite(invitations, "bob@example.com"))
    assert reads == []
    assert invitations.reason(await invite(invitations, "ann@example.com")) == "already_invited"
    assert reads  # the pending one, read once the slot refused the insert
    invitations.clock.advance(timedelta(days=8))
    overdue = created(invitations, first)["data"]["invitation_id"]
    second = created(invitations, await invite(invitations, "ann@example.com"))
    assert second["data"]["invitation_id"] != overdue
    expired = [e for e in invitations.published() if e["type"] == "InvitationExpired"]
    assert [e["data"]["invitation_id"] for e in expired] == [overdue]


async def test_invite_refusals(invitations: Invitations) -> None:
    await joined(invitations, "member-1", ["practitioner"])
    await invite(invitations, "taken@example.com")
    await member_event(
        invitations,
        "MemberDisconnected",
        member_id="admin-1",
        email="admin-1@example.com",
        roles=["administrator"],
        disconnected_by="owner-1",
        disconnected_at="2026-11-28T11:00:00Z",
    )
    cases = {
        "forbidden": [
            {"actor": "prac-1"},
            {"actor": "admin-1"},  # disconnected
            {"actor": "stranger"},
            {"actor": None},
        ],
        "already_member": [{"email": "member-1@example.com"}],
        "already_invited": [{"email": "taken@example.com"}],
        "invalid": [{"message": "x" * 2001}, {"roles": ["owner"]}, {"email": "not-an-email"}],
    }
    for reason, variants in cases.items():
        for variant in variants:
            email = variant.pop("email", "new@example.com")
            if "roles" in variant:
                data = {"email": email, **variant}
                command = await invitations.send("InviteTeamMember", data)
            else:
                command = await invite(invitations, email, **variant)
            assert invitations.reason(command) == reason, (reason, variant)


async def test_a_role_change_is_seen_by_authorisation() -> None:
    service = make()
    await joined(service, "boss", ["administrator"])
    assert created(service, await invite(service, "a@example.com", actor="boss"))
    await member_event(
        service,
        "MemberRolesChanged",
        member_id="boss",
        roles=["practitioner"],
        previous_roles=["administrator"],
        changed_by="owner-1",
    )
    assert service.reason(await invite(service, "b@example.com", actor="boss")) == "forbidden"


async def test_the_hourly_rate_limit() -> None:
    service = make(invites_per_account_per_hour=2)
    await joined(service, "owner-1", ["owner"])
    for n in range(2):
        created(service, await invite(service, f"p{n}@example.com"))
    assert service.reason(await invite(service, "p3@example.com")) == "rate_limited"
    service.clock.advance(timedelta(hours=1, seconds=1))
    created(service, await invite(service, "p3@example.com"))


async def test_resend_issues_a_reminder_link_at_most_once_a_minute(
    invitations: Invitations,
) -> None:
    invitation_id = created(invitations, await invite(invitations))["data"]["invitation_id"]
    too_soon = await invitations.send("ResendInvitation", {"invitation_id": invitation_id})
    assert invitations.reason(too_soon) == "rate_limited"
    invitations.clock.advance(timedelta(seconds=61))
    resend = await invitations.send(
        "ResendInvitation", {"invitation_id": invitation_id}, actor="admin-1"
    )
    assert created(invitations, resend)["data"]["resend_count"] == 1
    [link] = invitations.caused_by(resend, INVITATIONS_LINKS)
    assert link["data"]["resend_count"] == 1
    for actor in ("prac-1", None):
        refused = await invitations.send(
            "ResendInvitation", {"invitation_id": invitation_id}, actor=actor
        )
        assert invitations.reason(refused) == "forbidden"
    elsewhere = await invitations.send(
        "ResendInvitation", {"invitation_id": invitation_id}, account="acct-2"
    )
    assert invitations.reason(elsewhere) == "forbidden"  # no actor there, before not_found
    unknown = await invitations.send(
        "ResendInvitation", {"invitation_id": derived_id("nothing", "invitation")}
    )
    assert invitations.reason(unknown) == "not_found"


async def test_revoke_then_nothing_more(invitations: Invitations) -> None:
    invitation_id = created(invitations, await invite(invitations))["data"]["invitation_id"]
    revoke = await invitations.send("RevokeInvitation", {"invitation_id": invitation_id})
    event = invitations.outcome(revoke)
    assert (event["type"], event["data"]["revoked_by"]) == ("InvitationRevoked", "owner-1")
    again = await invitations.send("RevokeInvitation", {"invitation_id": invitation_id})
    assert invitations.reason(again) == "revoked"
    invitations.clock.advance(timedelta(minutes=2))
    resend = await invitations.send("ResendInvitation", {"invitation_id": invitation_id})
    assert invitations.reason(resend) == "revoked"
    created(invitations, await invite(invitations))  # the email is free again


async def test_accept_checks_the_token_the_email_and_the_state(invitations: Invitations) -> None:
    command = await invite(invitations)
    invitation_id = created(invitations, command)["data"]["invitation_id"]
    token = token_of(invitations, command)
    assert (
        invitations.reason(await accept(invitations, invitation_id, token + "x")) == "invalid_token"
    )
    wrong = await accept(invitations, invitation_id, token, email="bob@example.com")
    assert invitations.reason(wrong) == "email_mismatch"
    elsewhere = await invitations.send(
        "AcceptInvitation",
        {
            "invitation_id": invitation_id,
            "token": token,
            "user_id": "u",
            "email": "ann@example.com",
        },
        account="acct-2",
    )
    assert invitations.reason(elsewhere) == "invalid_token"
    ok = await accept(invitations, invitation_id, token)
    event = invitations.outcome(ok)
    assert (event["type"], event["data"]["user_id"], event["data"]["invited_by"]) == (
        "InvitationAccepted",
        "u-ann",
        "owner-1",
    )
    assert invitations.reason(await accept(invitations, invitation_id, token)) == "already_accepted"
    await invitations.send(
        "AcceptInvitation",
        {
            "invitation_id": invitation_id,
            "token": token,
            "user_id": "u-ann",
            "email": "ann@example.com",
        },
        message_id=ok,
        actor=None,
    )
    assert invitations.types(ok) == ["InvitationAccepted"]  # redelivered: no second event


async def test_expiry_by_the_sweeper_and_on_accept(invitations: Invitations) -> None:
    command = await invite(invitations)
    invitation_id = created(invitations, command)["data"]["invitation_id"]
    invitations.clock.advance(timedelta(days=7, seconds=1))
    late = await accept(invitations, invitation_id, token_of(invitations, command))
    assert invitations.reason(late) == "expired"
    handlers = invitations.service.handlers
    assert await handlers.sweep_expired() == 1
    assert await handlers.sweep_expired() == 0
    [expired] = [e for e in invitations.published() if e["type"] == "InvitationExpired"]
    stored = await invitations.service.store.document(invitation_id) or {}
    cause = f"{invitation_id}|{stored['expires_at'].isoformat()}"
    assert expired["id"] == derived_id(cause, "InvitationExpired")
    assert "causationid" not in expired
    resend = await invitations.send("ResendInvitation", {"invitation_id": invitation_id})
    assert created(invitations, resend)["type"] == "InvitationResent"  # revived


async def test_an_overdue_pending_invitation_is_expired_by_the_next_invite(
    invitations: Invitations,
) -> None:
    created(invitations, await invite(invitations))
    invitations.clock.advance(timedelta(days=8))
    second = await invite(invitations)
    assert created(invitations, second)["type"] == "InvitationCreated"
    assert [e["type"] for e in invitations.published()].count("InvitationExpired") == 1


async def test_a_link_relayed_after_a_crash_gets_a_fresh_token_that_works(
    invitations: Invitations,
) -> None:
    """The raw token lives only in memory until published: a new process (no memory) relaying
    the outbox mints a fresh link, which accepts."""
    runtime = invitations.runtime

    async def die(doc: object) -> None:  # killed between the write and the publish
        raise asyncio.CancelledError

    runtime.outbox.before_publish = die
    command = new_id()
    with pytest.raises(asyncio.CancelledError):
        await invitations.send(
            "InviteTeamMember",
            {"email": "ann@example.com", "roles": ["practitioner"]},
            message_id=command,
        )
    runtime.outbox.before_publish = None
    assert invitations.published() == []
    invitations.service.handlers.links._unpublished.clear()  # ... and its memory with it
    assert await runtime.outbox.sweep(runtime.outbox_collections) >= 1
    invitation_id = created(invitations, command)["data"]["invitation_id"]
    token = token_of(invitations, command)
    assert not token.startswith("unpublished:")
    assert invitations.outcome(await accept(invitations, invitation_id, token))["type"] == (
        "InvitationAccepted"
    )


async def test_unknown_commands_and_garbage(invitations: Invitations) -> None:
    unknown = await invitations.send("FireEveryone", {})
    assert invitations.reason(unknown) == "invalid"
    await invitations.raw(INVITATIONS_COMMANDS, b"\xff\xfe")
    await invitations.raw(INVITATIONS_COMMANDS, None)
    assert len(invitations.dead_letters(INVITATIONS_COMMANDS)) == 2
    again = await invitations.send("FireEveryone", {}, message_id=unknown)
    assert again == unknown and len(invitations.caused_by(unknown)) == 1  # rejected once


UNKNOWN_INVITATION = new_id()


def _command(type_: str, data: dict[str, Any], command_id: str | None = None) -> bytes:
    envelope = {
        "specversion": "1.0",
        "id": command_id or new_id(),
        "source": "/gateway",
        "type": type_,
        "accountid": "acct-1",
        "actorid": "owner-1",
        "data": data,
    }
    return json.dumps(envelope).encode()


async def test_a_redelivered_command_is_decided_once(invitations: Invitations) -> None:
    """A rejected command read again gets its first answer again; a command sent twice (a
    producer's retry) creates one invitation."""
    refused = await invitations.send("RevokeInvitation", {"invitation_id": UNKNOWN_INVITATION})
    assert invitations.reason(refused) == "not_found"
    fresh = new_id()
    redelivered = _command("RevokeInvitation", {"invitation_id": UNKNOWN_INVITATION}, refused)
    invite_ann = _command(
        "InviteTeamMember", {"email": "ann@example.com", "roles": ["practitioner"]}, fresh
    )
    pipeline = invitations.runtime.pipelines[INVITATIONS_COMMANDS]
    for offset, value in enumerate([redelivered, invite_ann, invite_ann]):
        await pipeline.handle(value, Origin(INVITATIONS_COMMANDS, 0, offset, b"acct-1"))

    assert invitations.types(refused) == ["CommandRejected"]  # the same outcome, not a new one
    assert invitations.types(fresh) == ["InvitationCreated"]  # created once
