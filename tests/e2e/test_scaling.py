"""Two instances of every service in the same consumer group share the partitions and
produce no duplicates."""

from __future__ import annotations

import asyncio
from pathlib import Path

from contracts.topics import INVITATIONS_COMMANDS, INVITATIONS_EVENTS, NOTIFICATIONS_EVENTS
from tests.e2e.conftest import start_system, stop_system
from tests.e2e.test_story import register
from tests.servers import Servers


async def test_two_instances_per_service_no_duplicates(
    servers: Servers, unique: str, tmp_path: Path
) -> None:
    system = await start_system(servers, unique, tmp_path, instances=2)
    try:
        accounts = [f"acct-scale{n}-{unique}" for n in range(8)]
        for account in accounts:
            await register(system, account, "owner-1", f"owner-{account}@example.com")
        emails = {f"p{i}-{account}@example.com": account for account in accounts for i in range(5)}
        commands = await asyncio.gather(
            *[
                system.gateway.send(
                    INVITATIONS_COMMANDS,
                    "InviteTeamMember",
                    account,
                    {"email": email, "roles": ["practitioner"]},
                    "owner-1",
                )
                for email, account in emails.items()
            ]
        )
        for command in commands:
            assert (await system.taps[INVITATIONS_EVENTS].outcome_of(command, timeout=90))[
                "type"
            ] == "InvitationCreated"
        await system.taps[NOTIFICATIONS_EVENTS].wait_for(
            lambda e: e["type"] == "EmailSent", count=len(emails), timeout=120
        )
        await asyncio.sleep(3)  # time for any duplicate to show up

        created = _records("InvitationCreated", system.taps[INVITATIONS_EVENTS].envelopes())
        sent = _records("EmailSent", system.taps[NOTIFICATIONS_EVENTS].envelopes())
        # One effect per invitation: one event id each, one email each.
        assert {e["data"]["email"] for e in created.values()} == set(emails)
        assert len(created) == len(emails)
        assert {e["data"]["to"] for e in sent.values()} == set(emails)
        assert len(sent) == len(emails)
        for email in emails:
            assert len(await system.mailbox.messages_to(email)) == 1
        for account in accounts:
            pending = await system.users(account, "pending")
            assert len(pending) == 5
        # both instances of each service took part
        for name, processes in system.processes.items():
            assert all(p.process and p.process.poll() is None for p in processes), name
    finally:
        await stop_system(system)


def _records(event_type: str, envelopes: list[dict]) -> dict[str, dict]:
    """Events by id. A record published twice with the same id (the documented at-least-once
    window during a rebalance) is one event to every consumer, which dedups by id."""
    found = [e for e in envelopes if e["type"] == event_type]
    by_id = {e["id"]: e for e in found}
    if len(found) != len(by_id):
        print(f"{event_type}: {len(found) - len(by_id)} re-published record(s) with the same id")
    return by_id
