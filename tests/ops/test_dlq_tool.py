"""The dead-letter tool on the real broker, with dead letters a running service really wrote."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer

from contracts.envelope import CONTENT_TYPE, new_id
from contracts.topics import INVITATIONS_COMMANDS, INVITATIONS_EVENTS, dlq_topic
from services.dlq import kafka_io
from services.dlq.letters import REPLAY_HEADER, DeadLetter
from tests.e2e.conftest import System
from tests.e2e.test_story import register
from tests.servers import Servers

DLQ = dlq_topic(INVITATIONS_COMMANDS)


def _tool(servers: Servers, *args: str, answer: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.dlq", *args],
        env={"PATH": "/usr/bin:/bin", **servers.kafka.env()},
        input=answer,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def _letters_with_key(servers: Servers, key: str, count: int = 1) -> list[DeadLetter]:
    for _ in range(120):
        found = [
            letter
            for letter in await kafka_io.read(servers.kafka, [DLQ])
            if letter.key == key.encode()
        ]
        if len(found) >= count:
            return found
        await asyncio.sleep(0.5)
    raise AssertionError(f"no dead letter with key {key}")


async def _produce(servers: Servers, topic: str, key: str, value: bytes, **headers: str) -> None:
    producer = AIOKafkaProducer(**servers.kafka.aiokafka(), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            value,
            key=key.encode(),
            headers=[(name.replace("_", "-"), v.encode()) for name, v in headers.items()],
        )
    finally:
        await producer.stop()


async def test_list_show_and_replay_a_poison_message(servers: Servers, system: System) -> None:
    account = f"acct-dlq-{system.unique}"
    poison = b"\x00not json at all " + system.unique.encode()
    await _produce(servers, INVITATIONS_COMMANDS, account, poison)
    [letter] = await _letters_with_key(servers, account)
    assert letter.value == poison and letter.source_topic == INVITATIONS_COMMANDS

    listed = _tool(servers, "list", "--topic", INVITATIONS_COMMANDS, "--error", "json")
    assert listed.returncode == 0, listed.stderr
    [line] = [line for line in listed.stdout.splitlines() if line.startswith(letter.ref + " ")]
    assert f"from {INVITATIONS_COMMANDS}/" in line and f"key={account}" in line
    assert "(invitations)" in line

    shown = _tool(servers, "show", letter.ref)
    assert shown.returncode == 0
    assert f"dead letter {letter.ref}" in shown.stdout
    assert "dlq-error:" in shown.stdout and "dlq-source-offset:" in shown.stdout
    assert repr(poison) in shown.stdout
    assert _tool(servers, "show", f"{DLQ}/0/999999999").returncode == 1

    replayed = _tool(servers, "replay", letter.ref)
    assert replayed.returncode == 0, replayed.stderr
    assert f"replayed {letter.ref} -> {INVITATIONS_COMMANDS}" in replayed.stdout
    # back on its topic with its key and the replay marker; still poison, so dead-lettered again
    on_topic = [
        record
        for record in await kafka_io.read(servers.kafka, [INVITATIONS_COMMANDS])
        if record.headers.get(REPLAY_HEADER) == letter.ref
    ]
    assert [(r.key, r.value) for r in on_topic] == [(account.encode(), poison)]
    again = await _letters_with_key(servers, account, count=2)
    assert [other.value for other in again] == [poison, poison]


async def test_replaying_a_command_twice_applies_it_once(servers: Servers, system: System) -> None:
    account, owner = f"acct-replay-{system.unique}", "owner-olive"
    await register(system, account, owner, f"olive-{system.unique}@example.com")
    command_id = new_id()
    command = {
        "specversion": "1.0",
        "id": command_id,
        "source": "/gateway",
        "type": "InviteTeamMember",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "datacontenttype": "application/json",
        "accountid": account,
        "actorid": owner,
        "data": {"email": f"ann-{system.unique}@example.com", "roles": ["practitioner"]},
    }
    # as a service leaves it after giving up on a failure that has since been fixed
    await _produce(
        servers,
        DLQ,
        account,
        json.dumps(command).encode(),
        dlq_error="RuntimeError('a bug, since fixed')",
        dlq_source_topic=INVITATIONS_COMMANDS,
        dlq_source_partition="0",
        dlq_source_offset="0",
        dlq_service="invitations",
        content_type=CONTENT_TYPE,
    )
    [letter] = await _letters_with_key(servers, account)
    for _ in range(2):
        assert _tool(servers, "replay", letter.ref).returncode == 0
    tap = system.taps[INVITATIONS_EVENTS]
    await tap.wait_for(lambda e: e.get("causationid") == command_id, timeout=60)
    await tap.settle(3)  # a second effect would show by now
    outcomes = [e for e in tap.envelopes(account) if e.get("causationid") == command_id]
    # the replay is answered again with the same event (same id): one outcome, one effect
    assert {(e["id"], e["type"]) for e in outcomes} == {(outcomes[0]["id"], "InvitationCreated")}
    users = await system.users(account)
    assert sorted(u["status"] for u in users) == ["active", "pending"]


async def test_purge_asks_first_and_deletes_what_is_older(servers: Servers) -> None:
    key = f"purge-{new_id()}"
    await _produce(servers, DLQ, key, b"old poison", dlq_error="old")
    await asyncio.sleep(1.1)
    until = datetime.now(UTC)
    await asyncio.sleep(1.1)
    await _produce(servers, DLQ, key, b"new poison", dlq_error="new")
    stamp = until.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    refused = _tool(servers, "purge", "--topic", DLQ, "--until", stamp, answer="n\n")
    assert refused.returncode == 1 and "nothing purged" in refused.stdout
    mine = [
        letter.value
        for letter in await kafka_io.read(servers.kafka, [DLQ])
        if letter.key == key.encode()
    ]
    assert mine == [b"old poison", b"new poison"]

    purged = _tool(servers, "purge", "--topic", DLQ, "--until", stamp, "--yes")
    assert purged.returncode == 0, purged.stderr
    left = await kafka_io.read(servers.kafka, [DLQ])
    assert [letter.value for letter in left if letter.key == key.encode()] == [b"new poison"]
    assert all(letter.timestamp > until for letter in left)
