"""SIGTERM in the middle of a burst: the service finishes or abandons what it holds without
committing past it, exits inside its grace period, and after a restart nothing is lost or
doubled."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from contracts.topics import INVITATIONS_COMMANDS, INVITATIONS_EVENTS
from tests.e2e.conftest import System
from tests.e2e.test_story import register
from tests.processes import ServiceProcess

BURST = 150


async def test_sigterm_mid_burst_loses_and_doubles_nothing(system: System, tmp_path: Path) -> None:
    account, owner = f"acct-term-{system.unique}", "owner-olive"
    await register(system, account, owner, f"olive-{system.unique}@example.com")
    emails = [f"p{i}-{system.unique}@example.com" for i in range(BURST)]
    for email in emails:
        await system.gateway.send(
            INVITATIONS_COMMANDS,
            "InviteTeamMember",
            account,
            {"email": email, "roles": ["practitioner"]},
            owner,
        )
    events = system.taps[INVITATIONS_EVENTS]
    await events.wait_for(
        lambda e: e["type"] == "InvitationCreated" and e["accountid"] == account, count=10
    )
    [running] = system.processes["invitations"]
    began = time.monotonic()
    running.stop()  # SIGTERM, then waits (fails the test if it takes over 30 s)
    stopped_in = time.monotonic() - began
    assert stopped_in < 20, f"took {stopped_in:.1f}s to stop"
    handled_before = {
        e["data"]["invitation_id"]
        for e in events.envelopes(account)
        if e["type"] == "InvitationCreated"
    }
    assert len(handled_before) < BURST, "the burst was over before the SIGTERM: make it larger"

    restarted = ServiceProcess("invitations", running.env, tmp_path / "invitations-2.log")
    system.processes["invitations"] = [restarted]
    restarted.start()
    await restarted.wait_ready()
    await events.wait_for(
        lambda e: e["type"] == "InvitationCreated" and e["accountid"] == account,
        count=BURST,
        timeout=120,
    )
    await events.settle(3)  # a second effect of a redelivered command would show by now
    created = {
        e["data"]["invitation_id"]: e["data"]["email"]
        for e in events.envelopes(account)
        if e["type"] == "InvitationCreated"
    }
    per_email = Counter(created.values())
    assert set(per_email) == set(emails), "an invitation was lost"
    assert set(per_email.values()) == {1}, "an invitation was created twice"
    rejected = [e for e in events.envelopes(account) if e["type"] == "CommandRejected"]
    assert rejected == []
    pending = await system.eventually(lambda: _pending(system, account), timeout=60)
    assert pending == set(emails)


async def _pending(system: System, account: str) -> set[str] | None:
    rows = await system.users(account, "pending")
    emails = {row["email"] for row in rows}
    return emails if len(emails) == BURST else None
