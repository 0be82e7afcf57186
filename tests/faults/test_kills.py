"""kill -9 every service at random moments during a run of invitations, accepts and
disconnects; restart it. Nothing is lost, no effect is duplicated (email duplicates are
counted and reported: the documented window between SMTP 250 and recording)."""

from __future__ import annotations

import asyncio
import math
import os
import random
from collections import Counter

import pytest

from contracts.topics import (
    INVITATIONS_COMMANDS,
    INVITATIONS_EVENTS,
    MEMBERSHIP_COMMANDS,
    MEMBERSHIP_EVENTS,
    NOTIFICATIONS_EVENTS,
)
from services.invitations.domain import Policy
from tests.e2e.conftest import System
from tests.e2e.test_story import register

pytestmark = pytest.mark.faults

INVITES = int(os.environ.get("FAULTS_KILL_INVITES", "1000"))
# enough accounts that none reaches the hourly invitation limit, however large the run
ACCOUNTS = max(6, math.ceil(INVITES / Policy().invites_per_account_per_hour))
KILLS_PER_SERVICE = 2


async def chaos(system: System, rounds: int, rng: random.Random) -> list[str]:
    """Kill -9 one instance of a random service, restart it, repeat."""
    victims = [name for name in system.processes for _ in range(rounds)]
    rng.shuffle(victims)
    done = []
    for name in victims:
        await asyncio.sleep(rng.uniform(0.5, 3.0))
        process = system.processes[name][0]
        process.kill()
        process.start()
        await process.wait_ready(timeout=90)
        done.append(name)
    return done


def distinct(envelopes: list[dict], event_type: str) -> dict[str, dict]:
    return {e["id"]: e for e in envelopes if e["type"] == event_type}


async def test_kill_dash_9_each_service_during_the_run(system: System) -> None:
    rng = random.Random(system.unique)
    accounts = [f"acct-kill{n}-{system.unique}" for n in range(ACCOUNTS)]
    for account in accounts:
        await register(system, account, "owner-1", f"owner-{account}@example.com")
    emails = {f"p{i}-{system.unique}@example.com": accounts[i % ACCOUNTS] for i in range(INVITES)}

    async def invite_all() -> None:
        for email, account in emails.items():
            await system.gateway.send(
                INVITATIONS_COMMANDS,
                "InviteTeamMember",
                account,
                {"email": email, "roles": ["practitioner"]},
                "owner-1",
            )
            await asyncio.sleep(0.01)

    killed, _ = await asyncio.gather(chaos(system, KILLS_PER_SERVICE, rng), invite_all())
    assert sorted(Counter(killed).values()) == [KILLS_PER_SERVICE] * len(system.processes)

    invitations = system.taps[INVITATIONS_EVENTS]
    await invitations.wait_for(
        lambda e: e["type"] == "InvitationCreated", count=INVITES, timeout=600
    )
    created = distinct(invitations.envelopes(), "InvitationCreated")
    per_email = Counter(e["data"]["email"] for e in created.values())
    assert set(per_email) == set(emails), "an invitation was lost"
    assert set(per_email.values()) == {1}, "an invitation was created twice"

    # accepts and disconnects, with more kills
    chosen = rng.sample(sorted(created.values(), key=lambda e: e["data"]["email"]), 30)

    async def accept_and_disconnect() -> None:
        for n, event in enumerate(chosen):
            await system.gateway.send(
                INVITATIONS_COMMANDS,
                "AcceptInvitation",
                event["accountid"],
                {
                    "invitation_id": event["data"]["invitation_id"],
                    "token": await system.token_for(event["data"]["invitation_id"]),
                    "user_id": f"user-{n}",
                    "email": event["data"]["email"],
                },
            )
            await asyncio.sleep(0.05)
        for n, event in enumerate(chosen[:10]):
            await system.taps[MEMBERSHIP_EVENTS].wait_for(
                lambda e, n=n: (
                    e["type"] == "MemberJoined" and e["data"]["member_id"] == f"user-{n}"
                ),
                timeout=300,
            )
            await system.gateway.send(
                MEMBERSHIP_COMMANDS,
                "DisconnectMember",
                event["accountid"],
                {"member_id": f"user-{n}"},
                "owner-1",
            )

    await asyncio.gather(chaos(system, 1, rng), accept_and_disconnect())
    membership = system.taps[MEMBERSHIP_EVENTS]
    await membership.wait_for(
        lambda e: e["type"] == "MemberJoined" and e["data"]["member_id"].startswith("user-"),
        count=30,
        timeout=300,
    )
    await membership.wait_for(lambda e: e["type"] == "MemberDisconnected", count=10, timeout=300)
    notifications = system.taps[NOTIFICATIONS_EVENTS]
    await notifications.wait_for(
        lambda e: e["type"] == "EmailSent" and e["data"]["template"] == "invitation",
        count=INVITES,
        timeout=600,
    )
    await asyncio.sleep(5)  # anything duplicated would show up by now

    joined = Counter(
        e["data"]["member_id"]
        for e in distinct(membership.envelopes(), "MemberJoined").values()
        if e["data"]["member_id"].startswith("user-")
    )
    assert set(joined.values()) == {1} and len(joined) == 30
    gone = Counter(
        e["data"]["member_id"]
        for e in distinct(membership.envelopes(), "MemberDisconnected").values()
    )
    assert set(gone.values()) == {1} and len(gone) == 10
    accepted = Counter(
        e["data"]["invitation_id"]
        for e in distinct(invitations.envelopes(), "InvitationAccepted").values()
    )
    assert set(accepted.values()) == {1} and len(accepted) == 30
    sent = Counter(
        e["data"]["cause_id"]
        for e in distinct(notifications.envelopes(), "EmailSent").values()
        if e["data"]["template"] == "invitation"
    )
    assert len(sent) == INVITES and set(sent.values()) == {1}

    for account, invited in Counter(emails.values()).items():
        rows = await system.users(account)
        people = [r for r in rows if r["status"] in ("pending", "active", "disconnected")]
        assert len(people) == invited + 1  # and the owner
    duplicate_emails = 0
    for email in emails:
        invitations_sent = [
            m
            for m in await system.mailbox.messages_to(email)
            if not m["Subject"].startswith("Welcome")
        ]  # accepted ones get a welcome
        count = len(invitations_sent)
        assert count >= 1, f"no email to {email}"
        duplicate_emails += count - 1
    republished = len(
        [e for e in invitations.envelopes() if e["type"] == "InvitationCreated"]
    ) - len(created)
    print(
        f"\nkills: {dict(Counter(killed))} + 1 more each; invitations {INVITES}, lost 0, "
        f"duplicate effects 0, duplicate emails {duplicate_emails}, "
        f"InvitationCreated records re-published with the same id {republished}"
    )
    assert duplicate_emails <= 2 * len(system.processes["notifications"]) * (KILLS_PER_SERVICE + 1)
