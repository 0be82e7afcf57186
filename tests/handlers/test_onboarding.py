"""Invitations that fit how a clinic onboards (issue: tags on the invitation applied on
joining, each invitation's own lifetime), handler by handler over the in-memory unit of work."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from contracts.common import utc_now
from contracts.topics import MEMBERSHIP_EVENTS
from tests.handlers.test_access_audit import make as make_access
from tests.handlers.test_invitation_handlers import (
    Invitations,
    accept,
    created,
    invite,
    token_of,
)
from tests.handlers.test_membership_handlers import (
    Membership,
    accepted,
    invitation_event,
    row,
)


def _expiry_days(event: dict[str, Any], now: datetime) -> float:
    expires = datetime.fromisoformat(event["data"]["expires_at"].replace("Z", "+00:00"))
    return (expires - now).total_seconds() / 86400


async def test_an_invitation_carries_its_tags_and_its_own_lifetime(
    invitations: Invitations,
) -> None:
    now = invitations.clock.now()
    command = await invite(
        invitations, security_tags=[" Kids ", "kids", "North"], expires_in_days=14
    )
    event = created(invitations, command)
    assert event["data"]["security_tags"] == ["Kids", "North"]  # trimmed, case-folded once
    assert round(_expiry_days(event, now)) == 14
    invitation_id = event["data"]["invitation_id"]
    invitations.clock.advance(timedelta(minutes=2))
    resend = await invitations.send(
        "ResendInvitation", {"invitation_id": invitation_id, "expires_in_days": 3}
    )
    assert round(_expiry_days(invitations.outcome(resend), invitations.clock.now())) == 3
    invitations.clock.advance(timedelta(minutes=2))
    again = await invitations.send("ResendInvitation", {"invitation_id": invitation_id})
    resent = invitations.outcome(again)
    assert round(_expiry_days(resent, invitations.clock.now())) == 3  # its own lifetime now
    assert resent["data"]["security_tags"] == ["Kids", "North"]
    done = await accept(invitations, invitation_id, token_of(invitations, again))
    assert invitations.outcome(done)["data"]["security_tags"] == ["Kids", "North"]


async def test_without_tags_or_lifetime_nothing_changes(invitations: Invitations) -> None:
    now = invitations.clock.now()
    event = created(invitations, await invite(invitations))
    assert event["data"]["security_tags"] is None
    assert round(_expiry_days(event, now)) == 7  # the setting
    for bad in (0, 31):
        refused = await invite(invitations, "bob@example.com", expires_in_days=bad)
        assert invitations.reason(refused) == "invalid"
    too_many = await invite(
        invitations, "cy@example.com", security_tags=[f"t{i}" for i in range(51)]
    )
    assert invitations.reason(too_many) == "invalid"


async def test_the_users_page_shows_pending_tags_and_joining_carries_them(
    membership: Membership,
) -> None:
    await invitation_event(
        membership,
        "InvitationCreated",
        invitation_id="0b6f2a4e-8c1d-4e3f-9a7b-5d2c1e0f9a8b",
        email="ann@example.com",
        roles=["practitioner"],
        inviter_id="owner-1",
        account_name="Sunrise Health",
        expires_at="2026-12-05T12:00:00.000Z",
        security_tags=["kids"],
    )
    pending = await row(membership, "ann@example.com")
    assert pending.pending_tags == ("kids",)
    joined = await accepted(
        membership,
        "ann@example.com",
        "0b6f2a4e-8c1d-4e3f-9a7b-5d2c1e0f9a8b",
        "user-ann",
        security_tags=["kids"],
    )
    [member_joined] = [e for e in membership.caused_by(joined) if e["type"] == "MemberJoined"]
    assert member_joined["data"]["security_tags"] == ["kids"]
    assert (await row(membership, "ann@example.com")).pending_tags is None


async def test_joining_with_tags_never_shows_more_than_the_tags_allow() -> None:
    access = make_access()
    for member, roles in (("owner-1", ["owner"]),):
        await access.send(
            "MemberJoined",
            {
                "member_id": member,
                "email": f"{member}@example.com",
                "roles": roles,
                "joined_at": "2026-11-28T10:00:00Z",
            },
            topic=MEMBERSHIP_EVENTS,
            actor=None,
        )
    await access.send("RegisterClient", {"client_id": "kid-1", "security_tags": ["kids"]})
    await access.send("RegisterClient", {"client_id": "adult-1", "security_tags": ["adults"]})
    await access.send("RegisterClient", {"client_id": "plain"})
    joined = await access.send(
        "MemberJoined",
        {
            "member_id": "ann",
            "email": "ann@example.com",
            "roles": ["practitioner"],
            "joined_at": utc_now().isoformat(),
            "security_tags": ["KIDS"],
        },
        topic=MEMBERSHIP_EVENTS,
        actor=None,
    )
    grants = [
        (e["data"]["granted"], e["data"]["revoked"])
        for e in access.published()
        if e["type"] == "ClientVisibilityChanged" and e["data"]["member_id"] == "ann"
    ]
    assert grants == [(["kid-1"], [])]  # the only change ever: no wider moment
    assert len(access.caused_by(joined)) == 1
