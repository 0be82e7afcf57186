"""The whole pipeline under load, against raw baselines measured in the same run.

    eval $(.venv/bin/python -m stack env) && .venv/bin/python -m bench.pipeline [-n 2000]

N InviteTeamMember commands (spread over accounts, 100 each, under the hourly limit) are
published by a load generator; the four services run as processes. Measured per invitation,
from the command's publish: (a) InvitationCreated on invitations.events, (b) the pending row on
the Users page (polled every 100 ms), (c) EmailSent on notifications.events (published right
after Mailpit's SMTP 250). Baselines: raw aiokafka producing and consuming N messages through
the same broker, and raw AsyncMongoClient doing N single-document writes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

from contracts.envelope import derived_id
from contracts.topics import INVITATIONS_COMMANDS, MEMBERSHIP_COMMANDS, PARTITIONS
from services.runtime.kafka_access import KafkaAccess
from services.runtime.settings import ServiceSettings
from stack.children import exit_on_signals
from tests.e2e.conftest import start_system, stop_system
from tests.servers import from_environment

PER_ACCOUNT = 100


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def kafka_baseline(access: KafkaAccess, n: int) -> float:
    topic = f"bench.baseline.{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(**access.aiokafka())
    await admin.start()
    await admin.create_topics([NewTopic(topic, PARTITIONS, 1)])
    await admin.close()
    producer = AIOKafkaProducer(**access.aiokafka(), acks="all", enable_idempotence=True)
    consumer = AIOKafkaConsumer(
        topic,
        **access.aiokafka(),
        group_id=topic,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    payload = b"x" * 600  # about an InviteTeamMember envelope
    start = time.perf_counter()
    for i in range(n):
        await producer.send_and_wait(topic, payload, key=f"acct-{i % 20}".encode())
    received = 0
    while received < n:
        batch = await consumer.getmany(timeout_ms=1000)
        received += sum(len(records) for records in batch.values())
        await consumer.commit()
    elapsed = time.perf_counter() - start
    await producer.stop()
    await consumer.stop()
    return n / elapsed


async def mongo_baseline(uri: str, n: int) -> float:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    collection = client[f"bench_baseline_{uuid.uuid4().hex[:8]}"]["docs"]
    start = time.perf_counter()
    for i in range(n):
        await collection.insert_one({"_id": f"doc-{i}", "email": f"p{i}@example.com", "n": i})
    elapsed = time.perf_counter() - start
    await client.drop_database(collection.database.name)
    await client.close()
    return n / elapsed


async def pipeline(n: int) -> dict[str, list[float] | float]:
    servers = from_environment()
    assert servers is not None, "point at the stack first: eval $(.venv/bin/python -m stack env)"
    unique = uuid.uuid4().hex[:8]
    system = await start_system(servers, unique, Path(tempfile.mkdtemp()))
    try:
        accounts = [f"acct-bench{a}-{unique}" for a in range(-(-n // PER_ACCOUNT))]
        for account in accounts:
            await system.gateway.send(
                MEMBERSHIP_COMMANDS,
                "RegisterProAccount",
                account,
                {
                    "account_name": "Bench",
                    "owner_user_id": "owner",
                    "owner_email": f"o-{account}@example.com",
                },
                "owner",
            )
        await asyncio.sleep(5)  # the projections learn the owners
        sent: dict[str, float] = {}
        email_of: dict[str, str] = {}
        email_of_account: dict[str, str] = {}
        start = time.perf_counter()
        for i in range(n):
            account = accounts[i // PER_ACCOUNT]
            email = f"p{i}-{unique}@example.com"
            command = await system.gateway.send(
                INVITATIONS_COMMANDS,
                "InviteTeamMember",
                account,
                {"email": email, "roles": ["practitioner"]},
                "owner",
            )
            sent[command] = time.perf_counter()
            email_of[command] = email
            email_of_account[email] = account
        publish_seconds = time.perf_counter() - start
        print(f"published {n} commands in {publish_seconds:.1f}s", flush=True)

        pending_seen: dict[str, float] = {}
        outstanding = dict(Counter(email_of_account.values()))
        deadline = time.perf_counter() + 120 + n * 0.5
        # Poll only accounts still missing rows, at most every 0.5 s: the Users page is a
        # consumer of the same database, and polling it harder would slow what we measure.
        while any(outstanding.values()) and time.perf_counter() < deadline:
            for account in [a for a, missing in outstanding.items() if missing]:
                response = await system.get(
                    "membership", f"/accounts/{account}/users?status=pending"
                )
                now = time.perf_counter()
                for row in response.json()["users"]:
                    if row["email"] not in pending_seen:
                        pending_seen[row["email"]] = now
                        outstanding[account] -= 1
            await asyncio.sleep(0.5)
        created_tap = system.taps["invitations.events"]
        await created_tap.wait_for(
            lambda e: e["type"] == "InvitationCreated", count=n, timeout=60 + n * 0.5
        )
        email_tap = system.taps["notifications.events"]
        await email_tap.wait_for(lambda e: e["type"] == "EmailSent", count=n, timeout=60 + n * 0.5)
        arrival: dict[tuple[str, str], float] = {}
        for tap in (created_tap, email_tap):
            for record in tap.records:
                event = json.loads(record.value)
                arrival.setdefault((event["type"], event["causationid"]), record.timestamp / 1000)
        # record timestamps are broker wall-clock; align them with perf_counter
        offset = time.time() - time.perf_counter()
        created_latency, email_latency, row_latency = [], [], []
        cause_of_email = {}
        for (event_type, cause), at in arrival.items():
            if event_type == "InvitationCreated" and cause in sent:
                created_latency.append(at - offset - sent[cause])
        # an invitation email is caused by the command's InvitationLinkIssued (private topic)
        link_of = {derived_id(command, "InvitationLinkIssued"): command for command in sent}
        for (event_type, cause), at in arrival.items():
            if event_type == "EmailSent" and cause in link_of:
                command = link_of[cause]
                email_latency.append(at - offset - sent[command])
                cause_of_email[command] = at - offset
        for command, email in email_of.items():
            if email in pending_seen:
                row_latency.append(pending_seen[email] - sent[command])
        last_email = max(cause_of_email.values())
        return {
            "created": created_latency,
            "row": row_latency,
            "email": email_latency,
            "rate": n / (last_email - min(sent.values())),
        }
    finally:
        await stop_system(system)


async def main(n: int) -> None:
    settings = ServiceSettings()
    print(f"pipeline: {n} invitations through the four services ...", flush=True)
    result = await pipeline(n)
    print("baselines ...", flush=True)
    kafka_rate = await kafka_baseline(settings.kafka_access(), n)
    mongo_rate = await mongo_baseline(settings.mongodb_uri.get_secret_value(), n)
    print(f"\n{'from the command to':28} {'p50 s':>8} {'p95 s':>8} {'p99 s':>8}  count")
    for label, key in (
        ("(a) InvitationCreated", "created"),
        ("(b) pending row on Users page", "row"),
        ("(c) email accepted by SMTP", "email"),
    ):
        values = result[key]
        assert isinstance(values, list)
        p50, p95, p99 = (pct(values, q) for q in (0.5, 0.95, 0.99))
        print(f"{label:28} {p50:8.2f} {p95:8.2f} {p99:8.2f}  {len(values)}")
    rate = result["rate"]
    assert isinstance(rate, float)
    slower = min(kafka_rate, mongo_rate)
    print(f"\npipeline throughput (command -> email): {rate:8.1f} invitations/s")
    print(f"raw aiokafka produce+consume baseline:  {kafka_rate:8.1f} messages/s")
    print(f"raw AsyncMongoClient insert baseline:   {mongo_rate:8.1f} writes/s")
    print(f"pipeline / slower baseline = {rate / slower:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("-n", type=int, default=2000)
    n = parser.parse_args().n
    # Ctrl-C, SIGTERM, SIGHUP: exit at once; the services it started die with it (they were
    # started with PR_SET_PDEATHSIG) and stop gracefully on the SIGTERM that brings them.
    exit_on_signals()
    asyncio.run(main(n))
