"""The whole pipeline under load, against raw baselines measured in the same run.

    eval $(.venv/bin/python -m stack env) && .venv/bin/python -m bench.pipeline [-n 2000]
    .venv/bin/python -m bench.pipeline --rate 100 --duration 60     # open loop

Burst (default): N InviteTeamMember commands, interleaved over N/100 accounts (100 each, under
the hourly limit; one account after another in the first version), are published at once (all
sent before any acknowledgement is awaited, as a gateway under a burst would); the
four services run as processes. Measured per invitation, from the command's publish:
(a) InvitationCreated on invitations.events, (b) the pending row on the Users page (polled every
0.5 s, on every fifth account: a sample, so that the polling takes little from the services
measured), (c) EmailSent on notifications.events (published right after Mailpit's SMTP 250).
Throughput is N over the time to the last email.

Warm-up (`--warmup W`, default 1000): before anything is measured, W invitations of their own
accounts go through the whole pipeline and their emails are awaited. A stack started minutes ago
has a cold broker: its JVM compiles its hot code as the first thousands of records go through
(on this project's VM the first burst cost the broker 6.1 ms of CPU per invitation, a later one
1.8 ms), and the baselines, measured after the pipeline, would find it warm. The services, started
by each run, make their connections and fill their caches on the warm-up's records too.

Open loop (`--rate R --duration S`): invitation i is sent at start + i/R whatever happened to
the others, and its latency is counted from that scheduled time, so a stalled pipeline shows as
latency rather than as a slower sender (no coordinated omission).

Baselines, same run: raw aiokafka producing and consuming N messages through the same broker and
raw AsyncMongoClient writing N single documents, each one at a time (serial: a round trip per
message) and at full speed (produce everything then consume in batches; 32 concurrent inserts):
the serial ones are what a one-record-at-a-time service could reach, the full-speed ones the
ceiling of this machine. Each service's peak RSS (VmHWM) is printed at the end.

Last, what the stack's servers alone allow: their CPU per invitation in this run (with the
requests the services send them now) against the machine's cores is a rate the pipeline cannot
pass even if the four services cost nothing, next to the same ratio as the pipeline's.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pymongo import AsyncMongoClient

from bench.cpu import CpuWindow
from bench.topics import scratch_topic
from contracts.envelope import derived_id
from contracts.topics import INVITATIONS_COMMANDS, MEMBERSHIP_COMMANDS, PARTITIONS
from services.runtime.kafka_access import KafkaAccess
from services.runtime.settings import ServiceSettings
from stack.children import exit_on_signals
from tests.e2e.conftest import SERVICES, System, start_system, stop_system
from tests.mailpit import Mailbox
from tests.servers import from_environment

PER_ACCOUNT = 100
ROW_SAMPLE = 5  # (b) is measured on every fifth account


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def kafka_baseline(access: KafkaAccess, n: int, full_speed: bool) -> float:
    async with scratch_topic(access, "bench.baseline", PARTITIONS) as topic:
        return await _produce_and_consume(access, topic, n, full_speed)


async def _produce_and_consume(access: KafkaAccess, topic: str, n: int, full_speed: bool) -> float:
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
    if full_speed:
        sent = [
            await producer.send(topic, payload, key=f"acct-{i % 20}".encode()) for i in range(n)
        ]
        await asyncio.gather(*sent)
    else:
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


async def mongo_baseline(uri: str, n: int, full_speed: bool) -> float:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri)
    collection = client[f"bench_baseline_{uuid.uuid4().hex[:8]}"]["docs"]
    writers = 32 if full_speed else 1

    async def writer(first: int) -> None:
        for i in range(first, n, writers):
            await collection.insert_one({"_id": f"doc-{i}", "email": f"p{i}@example.com", "n": i})

    start = time.perf_counter()
    await asyncio.gather(*[writer(w) for w in range(writers)])
    elapsed = time.perf_counter() - start
    await client.drop_database(collection.database.name)
    await client.close()
    return n / elapsed


Latencies = dict[str, list[float]]


async def register_accounts(system: System, count: int, unique: str) -> list[str]:
    accounts = [f"acct-bench{a}-{unique}" for a in range(count)]
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
    return accounts


async def invite(system: System, account: str, email: str) -> str:
    return await system.gateway.send(
        INVITATIONS_COMMANDS,
        "InviteTeamMember",
        account,
        {"email": email, "roles": ["practitioner"]},
        "owner",
    )


async def warm_up(system: System, count: int, unique: str) -> None:
    """`count` invitations through the whole pipeline, their emails awaited; nothing measured."""
    if count <= 0:
        return
    accounts = await register_accounts(system, -(-count // PER_ACCOUNT), f"w{unique}")
    sent: dict[str, float] = {}

    async def send(i: int) -> None:
        email = f"w{i}-{unique}@example.com"
        sent[await invite(system, accounts[i % len(accounts)], email)] = time.perf_counter()

    start = time.perf_counter()
    await asyncio.gather(*(send(i) for i in range(count)))
    _, emailed = await outcomes(system, sent, 60 + count * 0.5)
    took = time.perf_counter() - start
    print(f"warm-up: {len(emailed)} of {count} emails in {took:.1f} s", flush=True)


async def burst(system: System, n: int, unique: str, cpu: CpuWindow) -> tuple[Latencies, float]:
    """All N commands at once; latencies from each command's publish; throughput."""
    accounts = await register_accounts(system, -(-n // PER_ACCOUNT), unique)
    cpu.start()
    sent: dict[str, float] = {}
    email_of: dict[str, str] = {}
    email_of_account: dict[str, str] = {}
    start = time.perf_counter()

    async def send(i: int) -> None:
        account = accounts[i % len(accounts)]  # accounts interleave, as in real traffic
        email = f"p{i}-{unique}@example.com"
        issued = time.perf_counter()
        command = await invite(system, account, email)
        sent[command] = issued
        email_of[command] = email
        email_of_account[email] = account

    await asyncio.gather(*(send(i) for i in range(n)))
    print(f"published {n} commands in {time.perf_counter() - start:.1f}s", flush=True)

    pending_seen: dict[str, float] = {}
    # The rows are watched on every fifth account, polled only while rows are missing and at
    # most every 0.5 s: the Users page is served by a service under test from the same
    # database, and polling all of them would take CPU from what we measure.
    watched = set(accounts[::ROW_SAMPLE])
    outstanding = Counter(a for a in email_of_account.values() if a in watched)
    deadline = time.perf_counter() + 120 + n * 0.5
    while any(outstanding.values()) and time.perf_counter() < deadline:
        for account in [a for a, missing in outstanding.items() if missing]:
            response = await system.get("membership", f"/accounts/{account}/users?status=pending")
            now = time.perf_counter()
            for row in response.json()["users"]:
                if row["email"] not in pending_seen:
                    pending_seen[row["email"]] = now
                    outstanding[account] -= 1
        await asyncio.sleep(0.5)
    created, emailed = await outcomes(system, sent, 60 + n * 0.5)
    cpu.stop()
    rows = [pending_seen[email] - sent[c] for c, email in email_of.items() if email in pending_seen]
    latencies = {
        "created": [at - sent[c] for c, at in created.items()],
        "row": rows,
        "email": [at - sent[c] for c, at in emailed.items()],
    }
    return latencies, n / (max(emailed.values()) - min(sent.values()))


async def open_loop(
    system: System, rate: float, duration: float, unique: str, cpu: CpuWindow
) -> Latencies:
    """Invitation i is due at start + i/rate; latencies from the due time."""
    n = int(rate * duration)
    accounts = await register_accounts(system, -(-n // PER_ACCOUNT), unique)
    cpu.start()
    due: dict[str, float] = {}
    start = time.perf_counter() + 0.5
    late = 0.0

    async def send(i: int, at: float) -> None:
        command = await invite(system, accounts[i % len(accounts)], f"p{i}-{unique}@example.com")
        due[command] = at

    sending = []
    for i in range(n):
        at = start + i / rate
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        late = max(late, time.perf_counter() - at)
        sending.append(asyncio.create_task(send(i, at)))
    await asyncio.gather(*sending)
    print(f"offered {n} invitations at {rate:g}/s (sender at most {late * 1000:.0f} ms late)")
    created, emailed = await outcomes(system, due, 120)
    cpu.stop()
    lost = len(due) - len(emailed)
    email = sorted((due[c] - start, at - due[c]) for c, at in emailed.items())
    print(f"emails: {len(emailed)} of {n} ({lost} not sent within the drain time)")
    first = [latency for t, latency in email if t < 10]
    last = [latency for t, latency in email if t >= duration - 10]
    if first and last:  # a queue that grows shows as a later p50 well above the first one
        early, late_p50 = pct(first, 0.5), pct(last, 0.5)
        print(f"p50 email latency: first 10 s {early:.3f} s, last 10 s {late_p50:.3f} s")
    return {
        "created": [at - due[c] for c, at in created.items()],
        "email": [latency for _, latency in email],
    }


async def outcomes(
    system: System, sent: dict[str, float], drain_seconds: float
) -> tuple[dict[str, float], dict[str, float]]:
    """When each command's InvitationCreated and EmailSent reached the broker (perf_counter
    clock), for those that arrived within `timeout`."""
    n = len(sent)
    created_tap = system.taps["invitations.events"]
    email_tap = system.taps["notifications.events"]
    with contextlib.suppress(TimeoutError, AssertionError):
        await created_tap.wait_for(
            lambda e: e["type"] == "InvitationCreated" and e["causationid"] in sent,
            timeout=drain_seconds,
            count=n,
        )
    # an invitation email is caused by the command's InvitationLinkIssued (private topic)
    link_of = {derived_id(command, "InvitationLinkIssued"): command for command in sent}
    with contextlib.suppress(TimeoutError, AssertionError):
        await email_tap.wait_for(
            lambda e: e["type"] == "EmailSent" and e["causationid"] in link_of,
            timeout=drain_seconds,
            count=n,
        )
    # record timestamps are broker wall-clock; align them with perf_counter
    offset = time.time() - time.perf_counter()
    created: dict[str, float] = {}
    emailed: dict[str, float] = {}
    for tap in (created_tap, email_tap):
        for record in tap.records:
            event = json.loads(record.value)
            at = record.timestamp / 1000 - offset
            cause = event.get("causationid")
            if event["type"] == "InvitationCreated" and cause in sent:
                created.setdefault(cause, at)
            elif event["type"] == "EmailSent" and cause in link_of:
                emailed.setdefault(link_of[cause], at)
    return created, emailed


def peak_rss_mb(system: System) -> dict[str, float]:
    """VmHWM of each service process (the first instance), in MB."""
    peaks = {}
    for name, copies in system.processes.items():
        status = Path(f"/proc/{copies[0].pid}/status").read_text()
        kilobytes = next(
            int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")
        )
        peaks[name] = kilobytes / 1024
    return peaks


@dataclass(frozen=True)
class Run:
    latencies: Latencies
    throughput: float | None  # invitations/s (a burst only)
    peak_rss_mb: dict[str, float]
    cpu: CpuWindow
    invitations: int


async def run_pipeline(n: int, rate: float | None, duration: float, warmup: int) -> Run:
    servers = from_environment()
    assert servers is not None, "point at the stack first: eval $(.venv/bin/python -m stack env)"
    unique = uuid.uuid4().hex[:8]
    logs = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    system = await start_system(servers, unique, logs, measuring=True)
    pids = {name: copies[0].pid for name, copies in system.processes.items()}
    cpu = CpuWindow(pids)
    try:
        await warm_up(system, warmup, unique)
        if rate is None:
            latencies, throughput = await burst(system, n, unique, cpu)
        else:
            n = int(rate * duration)
            latencies, throughput = await open_loop(system, rate, duration, unique, cpu), None
        run = Run(latencies, throughput, peak_rss_mb(system), cpu, n)
    except BaseException:
        print(f"the services' logs are kept in {logs}", file=sys.stderr)
        raise
    finally:
        await stop_system(system)
        await drop_databases(unique)
    shutil.rmtree(logs)  # a few MB a run, of no use once it went well
    # a Mailpit at its message limit deletes the oldest at every new message, which later runs
    # would pay for in Mailpit's CPU (a dev stack here had reached its 100,000)
    await Mailbox(servers.mailpit_url).delete_to(f"-{unique}@example.com")
    return run


async def drop_databases(unique: str) -> None:
    """The run's four databases: each run would otherwise leave them behind, and a database
    server that holds more data is not the same machine for the next run."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        ServiceSettings().mongodb_uri.get_secret_value()
    )
    for name in SERVICES:
        await client.drop_database(f"{name}_e2e_{unique}")
    await client.close()


def print_latencies(latencies: Latencies, since: str) -> None:
    header = f"{'p50 s':>8} {'p95 s':>8} {'p99 s':>8} {'max s':>8}  count"
    print(f"\n{'from the ' + since + ' to':32} {header}")
    for label, key in (
        ("(a) InvitationCreated", "created"),
        ("(b) pending row on Users page", "row"),
        ("(c) email accepted by SMTP", "email"),
    ):
        values = latencies.get(key)
        if values:
            p50, p95, p99 = (pct(values, q) for q in (0.5, 0.95, 0.99))
            print(f"{label:32} {p50:8.3f} {p95:8.3f} {p99:8.3f} {max(values):8.3f}  {len(values)}")


async def main(n: int, rate: float | None, duration: float, warmup: int) -> None:
    settings = ServiceSettings()
    mode = f"{rate:g}/s offered for {duration:g} s" if rate else f"a burst of {n}"
    print(f"pipeline: {mode} invitations through the four services ...", flush=True)
    run = await run_pipeline(n, rate, duration, warmup)
    throughput = run.throughput
    print_latencies(run.latencies, "command" if rate is None else "scheduled send")
    rss = sorted(run.peak_rss_mb.items())
    print("\npeak RSS: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in rss))
    print(run.cpu.report(run.invitations, "invitation"))
    if throughput is None:
        return
    print("baselines ...", flush=True)
    access, uri = settings.kafka_access(), settings.mongodb_uri.get_secret_value()
    kafka_serial = await kafka_baseline(access, n, full_speed=False)
    kafka_full = await kafka_baseline(access, n, full_speed=True)
    mongo_serial = await mongo_baseline(uri, n, full_speed=False)
    mongo_full = await mongo_baseline(uri, n, full_speed=True)
    print(f"\npipeline throughput (command -> email):   {throughput:8.1f} invitations/s")
    print(f"raw aiokafka produce+consume, serial:     {kafka_serial:8.1f} messages/s")
    print(f"raw aiokafka produce+consume, full speed: {kafka_full:8.1f} messages/s")
    print(f"raw AsyncMongoClient inserts, serial:     {mongo_serial:8.1f} writes/s")
    print(f"raw AsyncMongoClient inserts, 32 at once: {mongo_full:8.1f} writes/s")
    serial, full = min(kafka_serial, mongo_serial), min(kafka_full, mongo_full)
    print(f"pipeline / slower serial baseline     = {throughput / serial:.3f}")
    print(f"pipeline / slower full-speed baseline = {throughput / full:.3f}")
    print_servers_bound(run, serial)


def servers_bound(server_seconds: float, invitations: int, cores: int) -> float:
    """Invitations/s the servers' own CPU allows on `cores` if the services cost nothing."""
    return cores * invitations / server_seconds


def print_servers_bound(run: Run, serial: float) -> None:
    """What the servers alone allow: the pipeline cannot pass it however cheap the services
    become, unless they send the servers fewer requests per invitation."""
    cores = len(os.sched_getaffinity(0))
    print(f"\nthe servers alone, with the requests the services send them now, on {cores} cores:")
    for label, leaving_out in (
        ("Kafka, PostgreSQL + DocumentDB, FerretDB, Mailpit", ()),
        ("the same but Mailpit (an SMTP relay elsewhere)", ("Mailpit",)),
    ):
        seconds = run.cpu.servers(*leaving_out)
        per = 1000 * seconds / run.invitations
        bound = servers_bound(seconds, run.invitations, cores)
        print(
            f"  {label:50} {per:5.2f} ms/invitation -> at most {bound:6.1f} invitations/s"
            f" = {bound / serial:.3f} of the slower serial baseline"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("-n", type=int, default=2000, help="burst size (default 2000)")
    parser.add_argument("--rate", type=float, help="open loop: invitations offered per second")
    parser.add_argument("--duration", type=float, default=60.0, help="open loop: seconds")
    parser.add_argument(
        "--warmup",
        type=int,
        default=1000,
        help="invitations sent through, and awaited, before measuring (default 1000; 0: none)",
    )
    args = parser.parse_args()
    # Ctrl-C, SIGTERM, SIGHUP: exit at once; the services it started die with it (they were
    # started with PR_SET_PDEATHSIG) and stop gracefully on the SIGTERM that brings them.
    exit_on_signals()
    asyncio.run(main(args.n, args.rate, args.duration, args.warmup))
