"""1,000 random tokens never accept an invitation (through the real store)."""

from __future__ import annotations

import secrets

import pytest

from contracts.envelope import RawEnvelope, new_id
from contracts.messages import AcceptInvitation
from services.runtime.inbound import Parsed
from services.runtime.rules import Refusal
from tests.services.invitations.conftest import Harness


async def test_a_thousand_random_tokens_never_accept(harness: Harness) -> None:
    account = harness.account()
    await harness.seed_account(account)
    created = (await harness.invite(account, "ann@example.com"))["data"]
    dispatch = harness.service.dispatch
    for n in range(1000):
        real = created["accept_token"]
        # a random token, or the real one with its last character changed (never to itself)
        tampered = real[:-1] + secrets.choice([c for c in "ABC" if c != real[-1]])
        token = secrets.token_urlsafe(32) if n % 2 else tampered
        data = AcceptInvitation(
            invitation_id=created["invitation_id"],
            token=token,
            user_id="u-ann",
            email="ann@example.com",
        )
        envelope = RawEnvelope(
            id=new_id(),
            source="/gateway",
            type="AcceptInvitation",
            accountid=account,
            data=data.model_dump(),
        )
        with pytest.raises(Refusal) as refused:
            await dispatch(Parsed(envelope, data))
        assert refused.value.reason.value == "invalid_token"
    real = await harness.outcome(
        "AcceptInvitation",
        account,
        {
            "invitation_id": created["invitation_id"],
            "token": created["accept_token"],
            "user_id": "u-ann",
            "email": "ann@example.com",
        },
    )
    assert real["type"] == "InvitationAccepted"
