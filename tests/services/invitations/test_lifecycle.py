"""The invitation lifecycle over the real broker and FerretDB, driven as a gateway would."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import timedelta

import pytest

from tests.services.invitations.conftest import Harness

pytestmark = pytest.mark.asyncio


async def test_invite_publishes_invitation_created_with_a_link_whose_token_is_only_stored_hashed(
    harness: Harness,
) -> None:
    account = harness.account()
    await harness.seed_account(account)
    event = await harness.invite(
        account,
        "  Coach.Ann@Example.COM ",
        message="Welcome!\nSee you",
        inviter_name="Olive",
        invitee_name="Ann",
    )
    data = event["data"]
    assert event["source"] == "/services/invitations"
    assert event["accountid"] == account
    assert data["email"] == "coach.ann@example.com"
    assert data["roles"] == ["practitioner"]
    assert data["message"] == "Welcome!\nSee you"
    assert data["inviter_id"] == "owner-1" and data["inviter_name"] == "Olive"
    assert data["account_name"] == f"Practice {account}"
    token = data["accept_token"]
    assert len(token) >= 43  # 32 random bytes, url-safe base64

    stored = await harness.service.store.document(data["invitation_id"])
    assert stored is not None
    dump = json.dumps(stored, default=str)
    assert token not in dump
    assert hashlib.sha256(token.encode()).hexdigest() in dump


async def test_accept_with_the_emailed_token_accepts_once(harness: Harness) -> None:
    account = harness.account()
    await harness.seed_account(account)
    created = (await harness.invite(account, "ann@example.com"))["data"]
    accept = {
        "invitation_id": created["invitation_id"],
        "token": created["accept_token"],
        "user_id": "user-ann",
        "email": "ANN@example.com",
        "name": "Ann",
    }
    accepted = await harness.outcome("AcceptInvitation", account, accept)
    assert accepted["type"] == "InvitationAccepted"
    assert accepted["data"] == {
        **accepted["data"],
        "invitation_id": created["invitation_id"],
        "email": "ann@example.com",
        "roles": ["practitioner"],
        "user_id": "user-ann",
        "name": "Ann",
        "invited_by": "owner-1",
    }
    again = await harness.outcome("AcceptInvitation", account, accept)
    assert again["type"] == "CommandRejected"
    assert again["data"]["reason"] == "already_accepted"


async def test_two_accepts_published_at_the_same_moment_give_one_acceptance(
    harness: Harness,
) -> None:
    account = harness.account()
    await harness.seed_account(account)
    created = (await harness.invite(account, "ann@example.com"))["data"]
    accept = {
        "invitation_id": created["invitation_id"],
        "token": created["accept_token"],
        "user_id": "user-ann",
        "email": "ann@example.com",
    }
    first, second = await asyncio.gather(
        harness.command("AcceptInvitation", account, accept),
        harness.command("AcceptInvitation", account, accept),
    )
    outcomes = [await harness.events.outcome_of(first), await harness.events.outcome_of(second)]
    kinds = sorted(o["type"] + ":" + o["data"].get("reason", "") for o in outcomes)
    assert kinds == ["CommandRejected:already_accepted", "InvitationAccepted:"]
    await harness.events.settle(0.5)
    accepted = [e for e in harness.events.envelopes(account) if e["type"] == "InvitationAccepted"]
    assert len(accepted) == 1


async def test_resend_issues_a_new_link_and_the_first_link_still_works(harness: Harness) -> None:
    account = harness.account()
    await harness.seed_account(account)
    created = (await harness.invite(account, "ann@example.com"))["data"]
    harness.clock.advance(timedelta(seconds=61))
    resent = await harness.outcome(
        "ResendInvitation", account, {"invitation_id": created["invitation_id"]}, "owner-1"
    )
    assert resent["type"] == "InvitationResent"
    assert resent["data"]["resend_count"] == 1
    assert resent["data"]["accept_token"] != created["accept_token"]
    assert resent["data"]["expires_at"] > created["expires_at"]
    accepted = await harness.outcome(
        "AcceptInvitation",
        account,
        {
            "invitation_id": created["invitation_id"],
            "token": created["accept_token"],
            "user_id": "u-ann",
            "email": "ann@example.com",
        },
    )
    assert accepted["type"] == "InvitationAccepted"


async def test_only_the_five_newest_links_are_live(harness: Harness) -> None:
    account = harness.account()
    await harness.seed_account(account)
    created = (await harness.invite(account, "ann@example.com"))["data"]
    tokens = [created["accept_token"]]
    for _ in range(5):
        harness.clock.advance(timedelta(seconds=61))
        resent = await harness.outcome(
            "ResendInvitation", account, {"invitation_id": created["invitation_id"]}, "owner-1"
        )
        tokens.append(resent["data"]["accept_token"])

    def accept(token: str) -> dict:
        return {
            "invitation_id": created["invitation_id"],
            "token": token,
            "user_id": "u-ann",
            "email": "ann@example.com",
        }

    dead = await harness.outcome("AcceptInvitation", account, accept(tokens[0]))
    assert dead["data"]["reason"] == "invalid_token"
    live = await harness.outcome("AcceptInvitation", account, accept(tokens[1]))
    assert live["type"] == "InvitationAccepted"


async def test_accept_after_expiry_is_refused_and_the_sweeper_publishes_expired(
    harness: Harness,
) -> None:
    account = harness.account()
    await harness.seed_account(account)
    created = (await harness.invite(account, "ann@example.com"))["data"]
    harness.clock.advance(timedelta(days=7, seconds=1))
    refused = await harness.outcome(
        "AcceptInvitation",
        account,
        {
            "invitation_id": created["invitation_id"],
            "token": created["accept_token"],
            "user_id": "u-ann",
            "email": "ann@example.com",
        },
    )
    assert refused["data"]["reason"] == "expired"

    assert await harness.service.handlers.sweep_expired() == 1
    expired = await harness.events.wait_for(lambda e: e["type"] == "InvitationExpired")
    assert expired[0]["data"] == {
        "invitation_id": created["invitation_id"],
        "email": "ann@example.com",
    }
    assert await harness.service.handlers.sweep_expired() == 0


async def test_resend_revives_an_expired_invitation_and_a_new_invite_is_possible_after_expiry(
    harness: Harness,
) -> None:
    account = harness.account()
    await harness.seed_account(account)
    created = (await harness.invite(account, "ann@example.com"))["data"]
    harness.clock.advance(timedelta(days=8))
    await harness.service.handlers.sweep_expired()
    revived = await harness.outcome(
        "ResendInvitation", account, {"invitation_id": created["invitation_id"]}, "owner-1"
    )
    assert revived["type"] == "InvitationResent"
    accepted = await harness.outcome(
        "AcceptInvitation",
        account,
        {
            "invitation_id": created["invitation_id"],
            "token": revived["data"]["accept_token"],
            "user_id": "u-ann",
            "email": "ann@example.com",
        },
    )
    assert accepted["type"] == "InvitationAccepted"

    other = (await harness.invite(account, "bob@example.com"))["data"]
    harness.clock.advance(timedelta(days=8))  # expired, not yet swept
    again = await harness.invite(account, "bob@example.com")
    assert again["data"]["invitation_id"] != other["invitation_id"]


async def test_revoke_kills_every_link_and_frees_the_email(harness: Harness) -> None:
    account = harness.account()
    await harness.seed_account(account, members={"admin-2": ["administrator"]})
    created = (await harness.invite(account, "ann@example.com", actor="admin-2"))["data"]
    revoked = await harness.outcome(
        "RevokeInvitation", account, {"invitation_id": created["invitation_id"]}, "admin-2"
    )
    assert revoked["type"] == "InvitationRevoked"
    assert revoked["data"] == {
        "invitation_id": created["invitation_id"],
        "email": "ann@example.com",
        "revoked_by": "admin-2",
    }
    refused = await harness.outcome(
        "AcceptInvitation",
        account,
        {
            "invitation_id": created["invitation_id"],
            "token": created["accept_token"],
            "user_id": "u-ann",
            "email": "ann@example.com",
        },
    )
    assert refused["data"]["reason"] == "revoked"
    fresh = await harness.invite(account, "ann@example.com")
    assert fresh["data"]["invitation_id"] != created["invitation_id"]


async def test_the_same_command_published_twice_has_one_outcome(harness: Harness) -> None:
    account = harness.account()
    await harness.seed_account(account)
    data = {"email": "ann@example.com", "roles": ["practitioner"]}
    command_id = await harness.command("InviteTeamMember", account, data, "owner-1")
    await harness.command("InviteTeamMember", account, data, "owner-1", command_id=command_id)
    rejected_id = await harness.command("InviteTeamMember", account, data, "stranger")
    await harness.command("InviteTeamMember", account, data, "stranger", command_id=rejected_id)
    await harness.events.outcome_of(command_id)
    await harness.events.outcome_of(rejected_id)
    await harness.events.settle(1.5)
    # one outcome each: the second copy is answered again with the very same event (same id,
    # same content), never with a second effect (a consumer drops the repeat by id)
    for cause in (command_id, rejected_id):
        caused = [e for e in harness.events.envelopes(account) if e["causationid"] == cause]
        assert len({e["id"] for e in caused}) == 1, caused
        assert all(e == caused[0] for e in caused)
