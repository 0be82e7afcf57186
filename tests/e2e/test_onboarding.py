"""Onboarding a clinic's team over Kafka and HTTP, through the client package: an invitation
that sets security tags gives a practitioner who never, from the moment they accept, sees more
than those tags allow."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path

from contracts import messages as m
from contracts.common import Locale, RejectionReason, Role
from contracts.http import UserRow
from contracts.topics import INVITATIONS_EVENTS, NOTIFICATIONS_EVENTS
from tests.e2e.conftest import System, start_system, stop_system
from tests.e2e.test_story import register
from tests.processes import free_port
from tests.servers import Servers
from tests.services.notifications.conftest import ExtraMailpit


async def test_tags_on_the_invitation_apply_with_no_moment_of_wider_visibility(
    system: System,
) -> None:
    team, api = system.team, system.api
    account, owner = f"acct-tags-{system.unique}", "owner-olive"
    await register(system, account, owner, f"olive-tags-{system.unique}@example.com")
    for client, tags in (("kid-1", ["kids"]), ("adult-1", ["adults"]), ("plain", [])):
        registered = m.RegisterClient(client_id=client, security_tags=tags)
        (await team.request(registered, account_id=account, actor_id=owner)).accepted()
    email = f"tagged-{system.unique}@example.com"
    invite = m.InviteTeamMember(
        email=email, roles=[Role.PRACTITIONER], security_tags=["Kids"], expires_in_days=3
    )
    created = (await team.request(invite, account_id=account, actor_id=owner)).accepted().data
    assert isinstance(created, m.InvitationCreated) and created.security_tags == ["Kids"]

    async def pending_row() -> UserRow | None:  # membership projects the event soon after
        rows = [row async for row in api.users(account) if row.email == email]
        return rows[0] if rows else None

    row = await system.eventually(pending_row)
    assert row.security_tags == ["Kids"] and row.status.value == "pending"
    token = await system.token_for(created.invitation_id)

    answers: list[list[str]] = []

    async def watch() -> None:
        while True:
            answers.append(await api.visible_clients(account, "user-tagged"))
            await asyncio.sleep(0.02)

    async with team.tail() as events:
        watcher = asyncio.create_task(watch())
        accept = m.AcceptInvitation(
            invitation_id=created.invitation_id, token=token, user_id="user-tagged", email=email
        )
        (await team.request(accept, account_id=account)).accepted()
        changes: list[m.ClientVisibilityChanged] = []
        async with asyncio.timeout(60):
            async for event in events:
                data = event.data
                if isinstance(data, m.ClientVisibilityChanged) and data.member_id == "user-tagged":
                    changes.append(data)
                    if "kid-1" in data.granted:
                        break
        await system.eventually(lambda: _sees(system, account, ["kid-1"]))
        await asyncio.sleep(0.5)  # more answers after the grant
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    assert [(c.granted, c.revoked) for c in changes] == [(["kid-1"], [])]
    assert answers and all(set(answer) <= {"kid-1"} for answer in answers), answers
    assert answers[-1] == ["kid-1"]


async def _sees(system: System, account: str, expected: list[str]) -> bool:
    return await system.visible(account, "user-tagged") == expected


async def test_a_bounced_invitation_shows_failed_on_the_users_page(
    servers: Servers, unique: str, tmp_path: Path
) -> None:
    """A Mailpit that refuses every recipient but `ok-...` plays the bouncing mail server."""
    bouncer = ExtraMailpit(tmp_path, free_port(), "--smtp-allowed-recipients", "^ok-")
    await bouncer.start()
    extra = {"SMTP_PORT": str(bouncer.smtp_port), "RESEND_MIN_INTERVAL_SECONDS": "0"}
    system = await start_system(servers, f"{unique}b", tmp_path, extra_env=extra)
    try:
        team, account, owner = system.team, f"acct-bounce-{unique}", "owner-olive"
        await register(system, account, owner, f"ok-olive-{unique}@example.com")
        good, bad = f"ok-{unique}@example.com", f"gone-{unique}@example.com"
        for email in (good, bad):
            invite = m.InviteTeamMember(email=email, roles=[Role.PRACTITIONER])
            (await team.request(invite, account_id=account, actor_id=owner)).accepted()

        async def statuses() -> dict[str, tuple[str | None, str | None]] | None:
            rows = {r.email: r async for r in system.api.users(account)}
            found = {
                e: (None, None) if e not in rows else (rows[e].email_status, rows[e].email_failure)
                for e in (good, bad)
            }
            done = found[good][0] == "sent" and found[bad][0] == "failed"
            return found if done else None

        found = await system.eventually(statuses)
        assert found[bad][1] is not None and "550" in found[bad][1]
        # Resend Invite: the new email bounces too, and the row says so again
        (row,) = [r async for r in system.api.users(account) if r.email == bad]
        assert row.invitation_id is not None and row.resend_count == 0
        resend = m.ResendInvitation(invitation_id=row.invitation_id)
        (await team.request(resend, account_id=account, actor_id=owner)).accepted()
        await system.taps[NOTIFICATIONS_EVENTS].wait_for(
            lambda e: e["type"] == "EmailFailed" and e["data"]["to"] == bad, count=2, timeout=60
        )
        again = await system.eventually(statuses)
        assert again[bad][0] == "failed"
    finally:
        await stop_system(system)
        bouncer.stop()


async def test_a_bulk_invitation_with_its_own_lifetime(system: System) -> None:
    team, api = system.team, system.api
    account, owner = f"acct-bulk-{system.unique}", "owner-olive"
    await register(system, account, owner, f"olive-bulk-{system.unique}@example.com")
    emails = [f"bulk{i}-{system.unique}@example.com" for i in range(3)]
    bulk = m.InviteTeamMembers(
        invitees=[
            m.Invitee(email=emails[0], roles=["practitioner"], security_tags=["kids"]),
            m.Invitee(email=emails[1], roles=["owner"]),  # refused alone
            m.Invitee(email=emails[2], roles=["administrator"], invitee_name="Cy"),
        ],
        message="Welcome, all of you!",
        expires_in_days=3,
    )
    outcome = await team.request(bulk, account_id=account, actor_id=owner, timeout=60)
    summary = outcome.accepted().data
    assert isinstance(summary, m.TeamMembersInvited)
    assert [(r.index, r.reason) for r in summary.results] == [
        (0, None),
        (1, RejectionReason.INVALID),
        (2, None),
    ]

    async def both_pending() -> dict[str, UserRow] | None:
        rows = {r.email: r async for r in api.users(account)}
        return rows if emails[0] in rows and emails[2] in rows else None

    rows = await system.eventually(both_pending)
    assert emails[1] not in rows
    for email in (emails[0], emails[2]):
        assert rows[email].status.value == "pending"
        assert rows[email].expires_at is not None
        expires = datetime.fromisoformat(rows[email].expires_at.replace("Z", "+00:00"))
        assert abs((expires - datetime.now(UTC)).total_seconds() - 3 * 86400) < 120
        [summary_mail] = await system.mailbox.wait_for(email, timeout=60)
        text = (await system.mailbox.message(summary_mail["ID"]))["Text"]
        assert "Welcome, all of you!" in text
    assert rows[emails[0]].security_tags == ["kids"]


async def test_reminders_and_the_account_language_and_time_zone(
    servers: Servers, unique: str, tmp_path: Path
) -> None:
    """A lifetime of a day and 9 s with reminders a day before expiry: the sweeper reminds
    about 9 s after the invitation; the emails speak the account's language in its zone."""
    extra = {
        "INVITATION_TTL_DAYS": "1.0001",
        "REMINDER_DAYS_BEFORE_EXPIRY": "1",
        "EXPIRY_SWEEP_SECONDS": "1",
        "RESEND_MIN_INTERVAL_SECONDS": "0",
    }
    system = await start_system(servers, f"{unique}r", tmp_path, extra_env=extra)
    try:
        team, account, owner = system.team, f"acct-remind-{unique}", "owner-olive"
        await register(system, account, owner, f"olive-remind-{unique}@example.com")
        preferences = m.SetAccountPreferences(
            locale=Locale.DE, time_zone="Europe/Berlin", reminder_days_before_expiry=1
        )
        set_ = await team.request(preferences, account_id=account, actor_id=owner)
        assert isinstance(set_.accepted().data, m.AccountPreferencesSet)
        await asyncio.sleep(1)  # the services' projections of the preferences
        german, spanish = f"de-{unique}@example.com", f"es-{unique}@example.com"
        for email, locale in ((german, None), (spanish, Locale.ES)):
            invite = m.InviteTeamMember(email=email, roles=[Role.PRACTITIONER], locale=locale)
            (await team.request(invite, account_id=account, actor_id=owner)).accepted()
        first = (await system.mailbox.wait_for(german, timeout=60))[0]
        text = (await system.mailbox.message(first["ID"]))["Text"]
        assert "Einladung annehmen" in text and "Europe/Berlin" in text
        spanish_mail = (await system.mailbox.wait_for(spanish, timeout=60))[0]
        assert "Aceptar invitación" in (await system.mailbox.message(spanish_mail["ID"]))["Text"]
        # about 9 s later: one automatic reminder each, in the same language, never a second
        await system.taps[INVITATIONS_EVENTS].wait_for(
            lambda e: e["type"] == "InvitationReminded" and e["accountid"] == account,
            count=2,
            timeout=60,
        )
        reminders = await system.mailbox.wait_for(german, count=2, timeout=60)
        subjects = sorted(r["Subject"] for r in reminders)
        assert any(s.startswith("Erinnerung:") for s in subjects), subjects
        await asyncio.sleep(3)
        reminded = [
            e
            for e in system.taps[INVITATIONS_EVENTS].envelopes(account)
            if e["type"] == "InvitationReminded"
        ]
        assert len(reminded) == 2
    finally:
        await stop_system(system)
