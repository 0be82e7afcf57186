"""What the outbox relay's periodic round costs as a collection grows, on the real server.

    eval $(.venv/bin/python -m stack env) && .venv/bin/python -m bench.outbox_relay

The relay's full sweep (`Outbox.sweep`) looks for unpublished events with a query the server
answers by reading every document (FerretDB has no partial indexes); until this round it was
the relay's step every `OUTBOX_SWEEP_SECONDS`, and `/metrics` ran it at each scrape. The
periodic step is now `Outbox.sweep_owed`: it reads only the documents this process could not
publish. For each size in `--sizes`, a scratch collection of delivery-sized documents (nothing
unpublished) is timed `--rounds` times both ways, alternating, with `--owed` documents owed
(what a broker outage leaves): wall time per round (p50) and the database servers' CPU per
round, and the ratio, from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from bench.cpu import CpuWindow
from contracts.envelope import CloudEvent
from contracts.messages import InvitationExpired
from services.runtime.collection import Collection, Document
from services.runtime.mongo import make_client
from services.runtime.mongo_collection import MongoCollection
from services.runtime.outbox import Outbox, outbox_entry
from services.runtime.publisher import MemoryPublisher, Record
from services.runtime.settings import ServiceSettings

BATCH = 5000


def delivery(n: int, now: datetime) -> Document:
    """About the size and shape of a notifications delivery once sent."""
    return {
        "_id": f"acct-{n % 500}|{n:08d}",
        "version": 3,
        "account_id": f"acct-{n % 500}",
        "status": "sent",
        "template": "invitation",
        "to": f"person{n}@example.com",
        "to_name": "Some Person",
        "subject": "You are invited to join Some Clinic on the platform",
        "cause_id": f"{n:032d}",
        "correlation_id": f"{n:032d}",
        "attempts": 1,
        "next_attempt_at": now,
        "sent_at": now,
        "message_id": f"<{n}@pro-team>",
        "outbox": [],
        "handled_commands": [f"{n:032d}"],
    }


class BrokerDown(MemoryPublisher):
    async def publish(self, records: Sequence[Record]) -> None:
        raise ConnectionError("broker down")


async def owe(outbox: Outbox, collection: Collection, count: int) -> None:
    """`count` documents whose events `outbox` could not publish."""
    for n in range(count):
        expired = InvitationExpired(
            invitation_id=f"00000000-0000-4000-8000-{n:012d}", email=f"owed{n}@example.com"
        )
        event: CloudEvent[InvitationExpired] = CloudEvent(
            id=f"owed-event-{n}",
            source="/bench",
            type="InvitationExpired",
            accountid="acct-1",
            correlationid=f"owed-{n}",
            causationid=f"owed-{n}",
            data=expired,
        )
        doc = {"_id": f"owed-{n}", "version": 1, "outbox": [outbox_entry("bench.events", event)]}
        await collection.insert(doc)
        with contextlib.suppress(ConnectionError):
            await outbox.flush(collection, doc)


async def timed(step: Callable[[], Awaitable[object]], rounds: int) -> tuple[list[float], float]:
    """Wall seconds of each round, and the database servers' CPU seconds per round."""
    window = CpuWindow({"this process": os.getpid()})
    window.start()
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        await step()
        seconds.append(time.perf_counter() - started)
    window.stop()
    assert window.spent is not None
    database = window.spent.get("FerretDB", 0.0) + window.spent.get("PostgreSQL + DocumentDB", 0.0)
    return seconds, database / rounds


async def measure(size: int, owed: int, rounds: int) -> None:
    client = make_client(ServiceSettings().mongodb_uri.get_secret_value())
    database = client[f"bench_outbox_{uuid.uuid4().hex[:8]}"]
    try:
        raw = database["deliveries"]
        now = datetime.now(UTC)
        for start in range(0, size, BATCH):
            docs = [delivery(n, now) for n in range(start, min(start + BATCH, size))]
            await raw.insert_many(docs, ordered=False)
        collection = MongoCollection(raw)
        outbox = Outbox(BrokerDown())
        await owe(outbox, collection, owed)

        async def full_sweep() -> None:  # what the old periodic round read
            await collection.find({"outbox.0": {"$exists": True}})

        async def owed_round() -> None:  # what sweep_owed reads (its publish would fail here)
            for key in [f"owed-{n}" for n in range(owed)]:
                await collection.get(key)

        full: list[float] = []
        ours: list[float] = []
        full_cpu = ours_cpu = 0.0
        for _ in range(2):  # alternating halves
            seconds, cpu = await timed(full_sweep, rounds // 2)
            full += seconds
            full_cpu += cpu / 2
            seconds, cpu = await timed(owed_round, rounds // 2)
            ours += seconds
            ours_cpu += cpu / 2
        slow, fast = statistics.median(full), statistics.median(ours)
        cpu_ratio = f"{full_cpu / ours_cpu:7.1f}x" if ours_cpu else "    n/a"
        print(
            f"{size:>10,} {slow * 1000:10.1f} {full_cpu * 1000:10.1f}"
            f" {fast * 1000:10.1f} {ours_cpu * 1000:10.1f} {slow / fast:8.1f}x {cpu_ratio}"
            f"   {full_cpu / 5:7.1%}"
        )
    finally:
        await client.drop_database(database.name)
        await client.close()


async def main(sizes: list[int], owed: int, rounds: int) -> None:
    print(f"{owed} documents owed, {rounds} rounds each way, alternating halves\n")
    print(f"{'':>10} {'full sweep (old round)':>21} {'owed only (new round)':>21}")
    print(
        f"{'documents':>10} {'p50 ms':>10} {'db CPU ms':>10} {'p50 ms':>10} {'db CPU ms':>10}"
        f" {'time':>9} {'db CPU':>8}   full sweep every 5 s, db CPU: share of a core"
    )
    for size in sizes:
        await measure(size, owed, rounds)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="10000,100000", help="documents, comma-separated")
    parser.add_argument("--owed", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    asyncio.run(main([int(s) for s in args.sizes.split(",")], args.owed, args.rounds))
