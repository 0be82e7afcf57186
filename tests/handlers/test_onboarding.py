"""Invitations that fit how a clinic onboards (issue: tags on the invitation applied on
joining, each invitation's own lifetime), handler by handler over the in-memory unit of work."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx

from contracts.common import utc_now
from contracts.topics import INVITATIONS_LINKS, MEMBERSHIP_EVENTS, NOTIFICATIONS_EVENTS
from tests.handlers.test_access_audit import joined as access_joined
from tests.handlers.test_access_audit import make as make_access
from tests.handlers.test_invitation_handlers import (
    Invitations,
    accept,
    created,
    invite,
    joined,
    make,
    registered,
    token_of,
)
from tests.handlers.test_membership_handlers import (
    Membership,
    accepted,
    invitation_event,
    invited,
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
    await access_joined(access, "owner-1", ["owner"])
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


async def _users(service: Membership) -> dict[str, dict[str, Any]]:
    app = service.runtime.http_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        body = (await c.get("/accounts/acct-1/users")).json()
    return {row["email"]: row for row in body["users"]}


async def _email_event(service: Membership, type_: str, to: str, **extra: Any) -> None:
    data = {"cause_id": "c-1", "template": "invitation", "to": to, **extra}
    await service.send(type_, data, topic=NOTIFICATIONS_EVENTS, actor=None)


async def test_the_users_page_says_how_the_invitation_email_went(membership: Membership) -> None:
    ann, bob = "ann@example.com", "bob@example.com"
    ann_invitation = await invited(membership, ann)
    await invited(membership, bob)
    rows = await _users(membership)
    assert (rows[ann]["email_status"], rows["owner-1@example.com"]["email_status"]) == (
        "sending",
        None,
    )
    membership.clock.advance(timedelta(seconds=1))
    await _email_event(
        membership,
        "EmailDeferred",
        ann,
        error="421 later",
        attempts=1,
        next_attempt_at="2026-11-28T12:00:00Z",
    )
    await _email_event(membership, "EmailSent", bob, message_id="<m@x>")
    rows = await _users(membership)
    assert (rows[ann]["email_status"], rows[bob]["email_status"]) == ("retrying", "sent")
    membership.clock.advance(timedelta(seconds=1))
    await _email_event(
        membership, "EmailFailed", ann, error="550 no such user", attempts=2, permanent=True
    )
    await _email_event(membership, "EmailSent", ann, template="welcome", message_id="<w@x>")
    rows = await _users(membership)
    assert (rows[ann]["email_status"], rows[ann]["email_failure"]) == ("failed", "550 no such user")
    # a resend clears the failure; a late word about the old link changes nothing
    membership.clock.advance(timedelta(seconds=1))
    await invitation_event(
        membership,
        "InvitationResent",
        invitation_id=ann_invitation,
        email=ann,
        roles=["practitioner"],
        inviter_id="owner-1",
        account_name="Sunrise Health",
        expires_at="2026-12-05T12:00:00.000Z",
        resend_count=1,
    )
    await membership.send(
        "EmailFailed",
        {
            "cause_id": "c-0",
            "template": "invitation",
            "to": ann,
            "error": "550 old",
            "attempts": 1,
            "permanent": True,
        },
        topic=NOTIFICATIONS_EVENTS,
        actor=None,
        age=timedelta(seconds=5),
    )
    rows = await _users(membership)
    assert (rows[ann]["email_status"], rows[ann]["email_failure"]) == ("sending", None)


def _bulk(*rows: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"invitees": list(rows), "message": "Welcome!", **extra}


async def test_a_bulk_invitation_answers_row_by_row(invitations: Invitations) -> None:
    await joined_member(invitations, "prac-2")
    payload = _bulk(
        {"email": "Ann@Example.com", "roles": ["practitioner"], "security_tags": ["kids"]},
        {"email": "not-an-email", "roles": ["practitioner"]},
        {"email": "prac-2@example.com", "roles": ["practitioner"]},
        {"email": "bo@example.com", "roles": ["owner"]},
        {"email": "cy@example.com", "roles": ["administrator"], "invitee_name": "Cy"},
        expires_in_days=10,
    )
    command = await invitations.send("InviteTeamMembers", payload)
    summary = _summary(invitations, command)
    results = summary["data"]["results"]
    assert [(r["index"], r["reason"]) for r in results] == [
        (0, None),
        (1, "invalid"),
        (2, "already_member"),
        (3, "invalid"),
        (4, None),
    ]
    assert results[0]["email"] == "ann@example.com" and results[1]["detail"]
    created = {
        e["data"]["invitation_id"]: e
        for e in invitations.caused_by(command)
        if e["type"] == "InvitationCreated"
    }
    assert set(created) == {results[0]["invitation_id"], results[4]["invitation_id"]}
    ann = created[results[0]["invitation_id"]]["data"]
    assert (ann["security_tags"], ann["message"]) == (["kids"], "Welcome!")
    assert len(invitations.caused_by(command, INVITATIONS_LINKS)) == 2  # an email each
    # redelivered: the same summary again, nothing created twice
    before = len(invitations.publisher.records)
    await invitations.send("InviteTeamMembers", payload, message_id=command)
    again = [json.loads(r.value) for r in invitations.publisher.records[before:]]
    assert [e["id"] for e in again] == [summary["id"]]


def _summary(service: Invitations, command: str) -> dict[str, Any]:
    [summary] = [e for e in service.caused_by(command) if e["type"] == "TeamMembersInvited"]
    return summary


async def test_bulk_rows_count_against_the_hourly_limit_one_by_one() -> None:
    service = await registered(make(invites_per_account_per_hour=2))
    rows = [{"email": f"p{i}@example.com", "roles": ["practitioner"]} for i in range(3)]
    command = await service.send("InviteTeamMembers", _bulk(*rows))
    reasons = [r["reason"] for r in _summary(service, command)["data"]["results"]]
    assert reasons == [None, None, "rate_limited"]


async def test_a_bulk_invitation_is_refused_whole_for_a_stranger_or_too_many_rows(
    invitations: Invitations,
) -> None:
    row = {"email": "ann@example.com", "roles": ["practitioner"]}
    stranger = await invitations.send("InviteTeamMembers", _bulk(row), actor="nobody")
    assert invitations.reason(stranger) == "forbidden"
    too_many = await invitations.send("InviteTeamMembers", _bulk(*[row] * 101))
    assert invitations.reason(too_many) == "invalid"
    assert not [e for e in invitations.published() if e["type"] == "InvitationCreated"]


async def joined_member(service: Invitations, user: str) -> None:
    await joined(service, user, ["practitioner"])


async def test_a_bulk_invitation_cut_short_by_a_crash_finishes_without_doubles(
    invitations: Invitations,
) -> None:
    rows = [{"email": f"p{i}@example.com", "roles": ["practitioner"]} for i in range(3)]
    command = await invitations.send("InviteTeamMembers", _bulk(*rows))
    first = _summary(invitations, command)
    # as if the process died after the rows and before the summary was written
    bulk = invitations.service.store.bulk_invites.collection
    doc = await bulk.get(command)
    assert doc is not None and await bulk.delete(command, doc["version"])
    created_before = {e["id"] for e in invitations.published() if e["type"] == "InvitationCreated"}
    await invitations.send("InviteTeamMembers", _bulk(*rows), message_id=command)
    created_after = {e["id"] for e in invitations.published() if e["type"] == "InvitationCreated"}
    assert created_after == created_before  # no invitation twice
    assert _summary(invitations, command)["data"] == first["data"]


# ---- account preferences and automatic reminders ------------------------------------------


async def test_account_preferences_are_set_by_an_admin_and_stated_whole(
    membership: Membership,
) -> None:
    changed = await membership.send(
        "SetAccountPreferences", {"reminder_days_before_expiry": 3, "time_zone": "Europe/Paris"}
    )
    assert membership.outcome(changed)["data"] == {
        "invitation_reminders": True,
        "reminder_days_before_expiry": 3,
        "locale": "en",
        "time_zone": "Europe/Paris",
    }
    again = await membership.send("SetAccountPreferences", {"locale": "de"})
    assert membership.outcome(again)["data"]["time_zone"] == "Europe/Paris"  # kept
    stranger = await membership.send("SetAccountPreferences", {"locale": "fr"}, actor="nobody")
    assert membership.reason(stranger) == "forbidden"
    for bad in ({"time_zone": "Mars/Olympus"}, {"reminder_days_before_expiry": 0}):
        assert membership.reason(await membership.send("SetAccountPreferences", bad)) == "invalid"


async def test_one_automatic_reminder_per_link_before_expiry(invitations: Invitations) -> None:
    command = await invite(invitations, expires_in_days=5)
    invitation_id = created(invitations, command)["data"]["invitation_id"]
    first_token = token_of(invitations, command)
    sweeper = invitations.service.handlers
    invitations.clock.advance(timedelta(days=2, hours=23))
    assert await sweeper.sweep_reminders() == 0  # due 2 days before expiry: not yet
    invitations.clock.advance(timedelta(hours=1, seconds=1))
    assert await sweeper.sweep_reminders() == 1
    [reminded] = [e for e in invitations.published() if e["type"] == "InvitationReminded"]
    assert (reminded["data"]["invitation_id"], reminded["data"]["reminders"]) == (
        invitation_id,
        1,
    )
    assert reminded["data"]["expires_at"] == created(invitations, command)["data"]["expires_at"]
    links = [
        e
        for e in invitations.published(INVITATIONS_LINKS)
        if e["data"]["invitation_id"] == invitation_id
    ]
    assert [link["data"]["resend_count"] for link in links] == [0, 1]  # the email says reminder
    invitations.clock.advance(timedelta(hours=12))
    assert await sweeper.sweep_reminders() == 0  # at most one per link
    ok = await accept(invitations, invitation_id, first_token)  # the first link still works
    assert invitations.outcome(ok)["type"] == "InvitationAccepted"


async def test_no_reminder_when_the_account_turned_them_off(invitations: Invitations) -> None:
    await invitations.send(
        "AccountPreferencesSet",
        {
            "invitation_reminders": False,
            "reminder_days_before_expiry": 2,
            "locale": "en",
            "time_zone": "UTC",
        },
        topic=MEMBERSHIP_EVENTS,
        actor=None,
    )
    await invite(invitations, expires_in_days=5)
    invitations.clock.advance(timedelta(days=4))
    assert await invitations.service.handlers.sweep_reminders() == 0


async def test_a_resend_arms_a_new_reminder(invitations: Invitations) -> None:
    command = await invite(invitations, expires_in_days=3)
    invitation_id = created(invitations, command)["data"]["invitation_id"]
    sweeper = invitations.service.handlers
    invitations.clock.advance(timedelta(days=1, seconds=1))
    assert await sweeper.sweep_reminders() == 1
    too_soon = await invitations.send("ResendInvitation", {"invitation_id": invitation_id})
    assert invitations.reason(too_soon) == "rate_limited"  # the reminder was an email too
    invitations.clock.advance(timedelta(seconds=61))
    resent = await invitations.send("ResendInvitation", {"invitation_id": invitation_id})
    assert invitations.outcome(resent)["type"] == "InvitationResent"
    assert await sweeper.sweep_reminders() == 0
    invitations.clock.advance(timedelta(days=1, seconds=1))
    assert await sweeper.sweep_reminders() == 1  # one for the new link
