"""The Kafka broker and FerretDB restarted mid-run, Mailpit down for 30 s: the services keep
running (readiness goes red, then green), nothing is lost, nothing is duplicated."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest

from contracts.topics import INVITATIONS_COMMANDS, INVITATIONS_EVENTS, NOTIFICATIONS_EVENTS
from stack import config, servers
from tests.e2e.conftest import System
from tests.e2e.test_story import register

pytestmark = pytest.mark.faults

INVITES = 90


async def restart(name: str, down_for: float = 0) -> None:
    cfg = config.load()
    await asyncio.to_thread(servers.stop, cfg, name)
    await asyncio.sleep(down_for)
    await asyncio.to_thread(servers.start, cfg, name)
    await asyncio.to_thread(servers.wait_ready, cfg, name, 120)


async def ready_again(system: System, name: str, within: float = 30) -> list[str]:
    """Waits for the service's `/readyz` to answer 200 and returns the red answers before it.
    One probe can catch a ping over its 2 s budget on a loaded two-core machine; what the test
    needs is that every service is ready again after the outages, not at one instant."""
    red: list[str] = []
    deadline = asyncio.get_running_loop().time() + within
    while (response := await system.get(name, "/readyz")).status_code != 200:
        red.append(f"{name}: {response.status_code} {response.text}")
        assert asyncio.get_running_loop().time() < deadline, f"not ready again: {red}"
        await asyncio.sleep(0.5)
    return red


async def test_broker_database_and_smtp_outages(system: System) -> None:
    accounts = [f"acct-out{n}-{system.unique}" for n in range(3)]
    for account in accounts:
        await register(system, account, "owner-1", f"owner-{account}@example.com")
    emails = {f"o{i}-{system.unique}@example.com": accounts[i % 3] for i in range(INVITES)}
    readiness: list[int] = []

    async def invite_all() -> None:
        for n, (email, account) in enumerate(emails.items()):
            while True:
                try:
                    await system.gateway.send(
                        INVITATIONS_COMMANDS,
                        "InviteTeamMember",
                        account,
                        {"email": email, "roles": ["practitioner"]},
                        "owner-1",
                    )
                    break
                except Exception:  # the broker is restarting: a gateway retries
                    await asyncio.sleep(1)
            await asyncio.sleep(0.2 if n % 10 else 1)

    async def outages() -> None:
        await asyncio.sleep(3)
        await restart("kafka", down_for=3)
        await asyncio.sleep(3)
        cfg = config.load()
        await asyncio.to_thread(servers.stop, cfg, "ferretdb")
        await asyncio.sleep(2)
        readiness.append((await system.get("invitations", "/readyz")).status_code)
        await asyncio.to_thread(servers.start, cfg, "ferretdb")
        await asyncio.to_thread(servers.wait_ready, cfg, "ferretdb", 120)
        await asyncio.sleep(2)
        await asyncio.to_thread(servers.stop, cfg, "mailpit")
        await asyncio.sleep(30)
        await asyncio.to_thread(servers.start, cfg, "mailpit")
        await asyncio.to_thread(servers.wait_ready, cfg, "mailpit", 120)

    await asyncio.gather(invite_all(), outages())
    assert readiness == [503], "readiness must go red while MongoDB is down"

    created_tap, sent_tap = system.taps[INVITATIONS_EVENTS], system.taps[NOTIFICATIONS_EVENTS]
    await created_tap.wait_for(
        lambda e: e["type"] == "InvitationCreated", count=INVITES, timeout=600
    )
    await sent_tap.wait_for(lambda e: e["type"] == "EmailSent", count=INVITES, timeout=600)
    await asyncio.sleep(5)
    created = {e["id"]: e for e in created_tap.envelopes() if e["type"] == "InvitationCreated"}
    assert Counter(e["data"]["email"] for e in created.values()) == Counter(set(emails))
    sent = {e["id"]: e for e in sent_tap.envelopes() if e["type"] == "EmailSent"}
    assert Counter(e["data"]["to"] for e in sent.values()) == Counter(set(emails))
    duplicates = 0
    for email in emails:
        count = len(await system.mailbox.messages_to(email))
        assert count >= 1, f"lost the email to {email}"
        duplicates += count - 1
    red: list[str] = []
    for name, processes in system.processes.items():
        for process in processes:
            assert process.process is not None and process.process.poll() is None, f"{name} died"
            red += await ready_again(system, name)
    print(
        f"\noutages: kafka restart, ferretdb restart, mailpit down 30 s; invitations {INVITES}, "
        f"lost 0, duplicate effects 0, duplicate emails {duplicates}; red answers of /readyz "
        f"after the outages, before green: {red or 'none'}"
    )
    assert duplicates == 0
