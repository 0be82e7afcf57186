"""Every refusal the design names comes back as exactly one CommandRejected with its reason."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest

from tests.services.invitations.conftest import Harness


def accept_data(created: dict, **changes: str) -> dict:
    return {
        "invitation_id": created["invitation_id"],
        "token": created["accept_token"],
        "user_id": "u-ann",
        "email": created["email"],
        **changes,
    }


async def reason(
    harness: Harness, type_: str, account: str, data: dict, actor: str | None = None
) -> str:
    outcome = await harness.outcome(type_, account, data, actor)
    assert outcome["type"] == "CommandRejected", outcome
    assert outcome["data"]["command_type"] == type_
    assert outcome["data"]["detail"]
    return outcome["data"]["reason"]


@pytest.mark.parametrize(
    "data",
    [
        {"email": "not-an-email", "roles": ["practitioner"]},
        {"email": "ann@example.com", "roles": ["owner"]},
        {"email": "ann@example.com", "roles": []},
        {"email": "ann@example.com", "roles": ["practitioner"], "message": "x" * 2001},
        {"email": "ann@example.com\r\nBcc: x@evil.test", "roles": ["practitioner"]},
        {"email": {"$gt": ""}, "roles": ["practitioner"]},
        {"roles": ["practitioner"]},
    ],
)
async def test_invalid_invites_are_rejected_as_invalid(harness: Harness, data: dict) -> None:
    account = harness.account()
    assert await reason(harness, "InviteTeamMember", account, data, "owner-1") == "invalid"


async def test_an_unknown_command_type_is_rejected_as_invalid(harness: Harness) -> None:
    assert await reason(harness, "DeleteEverything", harness.account(), {}, "owner-1") == "invalid"


async def test_forbidden_for_everyone_but_active_owners_and_administrators(
    harness: Harness,
) -> None:
    account = harness.account()
    await harness.seed_account(
        account,
        members={
            "admin-1": ["administrator"],
            "prac-1": ["practitioner"],
            "clientadmin-1": ["client_administrator"],
            "billing-1": ["billing_administrator"],
            "gone-1": ["administrator"],
        },
    )
    await harness.membership_event(
        "MemberDisconnected",
        account,
        {
            "member_id": "gone-1",
            "email": "gone-1@example.com",
            "roles": ["administrator"],
            "disconnected_by": "owner-1",
            "disconnected_at": "2026-11-27T11:00:00Z",
        },
    )
    for _ in range(100):
        actor = await harness.service.store.actor(account, "gone-1")
        if actor is not None and not actor.active:
            break
        await harness.events.settle(0.05)
    invite = {"email": "new@example.com", "roles": ["practitioner"]}
    for actor in ("prac-1", "clientadmin-1", "billing-1", "gone-1", "stranger", None):
        assert await reason(harness, "InviteTeamMember", account, invite, actor) == "forbidden", (
            actor
        )
    for actor in ("owner-1", "admin-1"):
        created = await harness.invite(account, f"by-{actor}@example.com", actor=actor)
        for verb in ("ResendInvitation", "RevokeInvitation"):
            data = {"invitation_id": created["data"]["invitation_id"]}
            assert await reason(harness, verb, account, data, "prac-1") == "forbidden"


async def test_already_member_and_already_invited(harness: Harness) -> None:
    account = harness.account()
    await harness.seed_account(account, members={"prac-1": ["practitioner"]})
    member = {"email": "PRAC-1@example.com", "roles": ["practitioner"]}
    assert await reason(harness, "InviteTeamMember", account, member, "owner-1") == "already_member"
    await harness.invite(account, "ann@example.com")
    again = {"email": " Ann@Example.com", "roles": ["administrator"]}
    assert await reason(harness, "InviteTeamMember", account, again, "owner-1") == "already_invited"


async def test_not_found_for_an_unknown_invitation(harness: Harness) -> None:
    account = harness.account()
    await harness.seed_account(account)
    unknown = {"invitation_id": str(uuid.uuid4())}
    assert await reason(harness, "ResendInvitation", account, unknown, "owner-1") == "not_found"
    assert await reason(harness, "RevokeInvitation", account, unknown, "owner-1") == "not_found"


async def test_token_refusals(harness: Harness) -> None:
    account = harness.account()
    await harness.seed_account(account)
    created = (await harness.invite(account, "ann@example.com"))["data"]
    tampered = created["accept_token"][:-2] + (
        "AA" if not created["accept_token"].endswith("AA") else "BB"
    )
    assert (
        await reason(harness, "AcceptInvitation", account, accept_data(created, token=tampered))
        == "invalid_token"
    )
    assert (
        await reason(harness, "AcceptInvitation", account, accept_data(created, token="x"))
        == "invalid_token"
    )
    unknown = accept_data(created, invitation_id=str(uuid.uuid4()))
    assert await reason(harness, "AcceptInvitation", account, unknown) == "invalid_token"
    other_user = accept_data(created, email="mallory@example.com", user_id="u-mallory")
    assert await reason(harness, "AcceptInvitation", account, other_user) == "email_mismatch"


async def test_expired_revoked_and_already_accepted(harness: Harness) -> None:
    account = harness.account()
    await harness.seed_account(account)
    expiring = (await harness.invite(account, "exp@example.com"))["data"]
    revoked = (await harness.invite(account, "rev@example.com"))["data"]
    accepted = (await harness.invite(account, "acc@example.com"))["data"]
    await harness.outcome(
        "RevokeInvitation", account, {"invitation_id": revoked["invitation_id"]}, "owner-1"
    )
    assert (await harness.outcome("AcceptInvitation", account, accept_data(accepted)))[
        "type"
    ] == "InvitationAccepted"

    assert await reason(harness, "AcceptInvitation", account, accept_data(revoked)) == "revoked"
    assert (
        await reason(
            harness,
            "ResendInvitation",
            account,
            {"invitation_id": revoked["invitation_id"]},
            "owner-1",
        )
        == "revoked"
    )
    assert (
        await reason(
            harness,
            "RevokeInvitation",
            account,
            {"invitation_id": accepted["invitation_id"]},
            "owner-1",
        )
        == "already_accepted"
    )
    assert (
        await reason(
            harness,
            "ResendInvitation",
            account,
            {"invitation_id": accepted["invitation_id"]},
            "owner-1",
        )
        == "already_accepted"
    )
    harness.clock.advance(timedelta(days=7, minutes=1))
    assert await reason(harness, "AcceptInvitation", account, accept_data(expiring)) == "expired"


async def test_resend_more_than_once_a_minute_is_rate_limited(harness: Harness) -> None:
    account = harness.account()
    await harness.seed_account(account)
    created = (await harness.invite(account, "ann@example.com"))["data"]
    resend = {"invitation_id": created["invitation_id"]}
    assert await reason(harness, "ResendInvitation", account, resend, "owner-1") == "rate_limited"
    harness.clock.advance(timedelta(seconds=61))
    assert (await harness.outcome("ResendInvitation", account, resend, "owner-1"))[
        "type"
    ] == "InvitationResent"


@pytest.mark.parametrize("harness", [{"invites_per_account_per_hour": 3}], indirect=True)
async def test_invites_per_account_per_hour_are_rate_limited(harness: Harness) -> None:
    account = harness.account()
    await harness.seed_account(account)
    for n in range(3):
        await harness.invite(account, f"p{n}@example.com")
    extra = {"email": "p3@example.com", "roles": ["practitioner"]}
    assert await reason(harness, "InviteTeamMember", account, extra, "owner-1") == "rate_limited"
    other = harness.account("other")
    await harness.seed_account(other)
    await harness.invite(other, "p3@example.com")  # the limit is per account
    harness.clock.advance(timedelta(hours=1, seconds=1))
    await harness.invite(account, "p3@example.com")


async def test_the_admin_of_account_a_cannot_touch_account_b(harness: Harness) -> None:
    a, b = harness.account("a"), harness.account("b")
    await harness.seed_account(a, owner="owner-a")
    await harness.seed_account(b, owner="owner-b")
    b_invite = (await harness.invite(b, "ann@example.com", actor="owner-b"))["data"]
    b_id = {"invitation_id": b_invite["invitation_id"]}
    # With A's account in the envelope, B's invitation does not exist.
    assert await reason(harness, "ResendInvitation", a, b_id, "owner-a") == "not_found"
    assert await reason(harness, "RevokeInvitation", a, b_id, "owner-a") == "not_found"
    assert await reason(harness, "AcceptInvitation", a, accept_data(b_invite)) == "invalid_token"
    # With B's account in the envelope, A's owner is nobody there.
    assert await reason(harness, "ResendInvitation", b, b_id, "owner-a") == "forbidden"
    assert await reason(harness, "RevokeInvitation", b, b_id, "owner-a") == "forbidden"
    invite = {"email": "x@example.com", "roles": ["practitioner"]}
    assert await reason(harness, "InviteTeamMember", b, invite, "owner-a") == "forbidden"
    # B's invitation is untouched and still acceptable.
    assert (await harness.outcome("AcceptInvitation", b, accept_data(b_invite)))[
        "type"
    ] == "InvitationAccepted"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"\xff\xfe\x00garbage",
        b"[1, 2, 3]",
        b'"just a string"',
        json.dumps({"type": "InviteTeamMember", "data": {}}).encode(),
        json.dumps(
            {
                "specversion": "1.0",
                "id": "x",
                "source": "/gateway",
                "type": "InviteTeamMember",
                "accountid": "../../etc/passwd",
                "data": {},
            }
        ).encode(),
    ],
)
async def test_poison_goes_to_the_dlq_and_the_next_command_is_processed(
    harness: Harness, raw: bytes
) -> None:
    account = harness.account()
    await harness.seed_account(account)
    await harness.gateway.send_raw("invitations.commands", account, raw)
    created = await harness.invite(account, "after-poison@example.com")
    assert created["type"] == "InvitationCreated"
    dead = await harness.dlq.wait_for_raw(lambda r: r.value == raw)
    headers = dict(dead.headers)
    assert headers["dlq-source-topic"] == b"invitations.commands"
    assert headers["dlq-error"]
    assert int(headers["dlq-source-offset"]) >= 0
