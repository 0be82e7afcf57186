"""What a client id in access_control's history costs to write, on the real MongoDB-wire server.

    eval $(.venv/bin/python -m stack env) && .venv/bin/python -m bench.history_index

A member's re-tag writes one history record naming every client whose answer it moves; the
record's `clients` list is indexed so that a client's history can find it. Records naming
`--ids` clients are inserted, one at a time as the service does, into collections already
holding `--existing` records, three ways that alternate in blocks of 10 inserts:

- the service's indexes (`services/access_control/history.py`);
- the same without the `clients` index (what the record costs with no client to look up);
- the service's indexes made with `enableOrderedIndex` (DocumentDB's composite-term index;
  a server that refuses the option, such as MongoDB, is named and this way skipped).

Printed per way: insert p50, the database servers' CPU per insert, the WAL PostgreSQL wrote per
insert (only on the local stack, whose PostgreSQL this process can ask), and a client's history
query p50 over the result; the ratios against the service's indexes are from the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from bench.cpu import CpuWindow
from services.access_control.history import INDEXES
from services.runtime.collection import Document
from services.runtime.mongo import make_client
from services.runtime.mongo_collection import MongoCollection
from services.runtime.settings import ServiceSettings

BLOCK = 10  # inserts of one way before the next way's
ACCOUNT = "acct-bench"
CLIENTS = 10_000


@dataclass
class Way:
    name: str
    indexes: list[dict[str, Any]]  # createIndexes specifications
    collection: AsyncCollection[Document] | None = None
    seconds: list[float] = field(default_factory=list)
    database_cpu: float = 0.0
    wal_bytes: int | None = 0
    query_seconds: list[float] = field(default_factory=list)
    refused: str | None = None  # the server does not make these indexes (MongoDB: the option)


def specifications(ordered: bool, with_clients: bool) -> list[dict[str, Any]]:
    chosen = [i for i in INDEXES if with_clients or "clients" not in i.fields]
    extra = {"enableOrderedIndex": True} if ordered else {}
    return [
        {"key": dict.fromkeys(i.fields, 1), "name": "_".join(i.fields), **extra} for i in chosen
    ]


def record(seq: int, ids: int, first: int) -> Document:
    return {
        "_id": f"r{seq}",
        "account_id": ACCOUNT,
        "members": [f"m{seq % 200:03d}"],
        "clients": [f"c{(first + j * 25) % CLIENTS:05d}" for j in range(ids)],
        "seq": seq,
    }


def wal_position() -> int | None:
    """PostgreSQL's WAL insert position in bytes, through the local stack's admin socket
    (None where this process cannot ask: another server, or Docker)."""
    with contextlib.suppress(Exception):
        from stack import postgres
        from stack.config import load

        return int(postgres.psql(load(), "SELECT pg_current_wal_lsn() - '0/0'::pg_lsn"))
    return None


@contextlib.asynccontextmanager
async def measured(way: Way) -> AsyncIterator[None]:
    window = CpuWindow({})
    wal_before = wal_position()
    await asyncio.sleep(0.05)  # the backend that answered has exited: not in the CPU window
    window.start()
    yield
    window.stop()
    wal_after = wal_position()
    assert window.spent is not None
    way.database_cpu += window.spent.get("FerretDB", 0.0)
    way.database_cpu += window.spent.get("PostgreSQL + DocumentDB", 0.0)
    if way.wal_bytes is not None and wal_before is not None and wal_after is not None:
        way.wal_bytes += wal_after - wal_before
    else:
        way.wal_bytes = None


async def prepared(database: AsyncDatabase[Document], way: Way, existing: int) -> None:
    name = way.name.replace(" ", "_").replace("'", "")
    await database.create_collection(name)
    try:
        await database.command({"createIndexes": name, "indexes": way.indexes})
    except OperationFailure as refusal:
        message = str(refusal.details.get("errmsg") if refusal.details else refusal)
        way.refused = message.rsplit(":: caused by ::", 1)[-1].strip()[:100]
        return
    way.collection = database[name]
    await way.collection.insert_many(
        [record(seq, 20, seq * 7) for seq in range(existing)], ordered=False
    )


async def insert_block(way: Way, seqs: range, ids: int) -> None:
    assert way.collection is not None
    async with measured(way):
        for seq in seqs:
            started = time.perf_counter()
            await way.collection.insert_one(record(seq, ids, seq))
            way.seconds.append(time.perf_counter() - started)


async def client_history(way: Way, queries: int) -> None:
    """As `History.of_client` asks, through the services' storage layer (a raw sorted cursor
    would cost FerretDB a new PostgreSQL backend per query: `services/runtime/mongo_collection`)."""
    assert way.collection is not None
    storage = MongoCollection(way.collection)
    for n in range(queries):
        where = {"account_id": ACCOUNT, "clients": f"c{n * 25 % CLIENTS:05d}"}
        started = time.perf_counter()
        sorted(await storage.find(where), key=lambda doc: doc["seq"])
        way.query_seconds.append(time.perf_counter() - started)


def p50_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


async def main(ids: int, existing: int, inserts: int) -> None:
    client = make_client(ServiceSettings().mongodb_uri.get_secret_value())
    database = client[f"bench_history_index_{uuid.uuid4().hex[:8]}"]
    ways = [
        Way("the service's indexes", specifications(ordered=False, with_clients=True)),
        Way("without the clients index", specifications(ordered=False, with_clients=False)),
        Way("composite-term indexes", specifications(ordered=True, with_clients=True)),
    ]
    try:
        for way in ways:
            await prepared(database, way, existing)
        measurable = [way for way in ways if way.refused is None]
        first = existing
        for block in range(0, inserts, BLOCK):
            for way in measurable:
                await insert_block(way, range(first + block, first + block + BLOCK), ids)
        for way in measurable:
            await client_history(way, 50)
    finally:
        await client.drop_database(database.name)
        await client.close()
    print(f"records naming {ids} clients into {existing} existing, {inserts} each way\n")
    print(
        f"{'indexes':28} {'insert p50 ms':>14} {'db CPU ms':>10} {'WAL KB':>9} {'query p50 ms':>13}"
    )
    for way in ways:
        if way.refused is not None:
            print(f"{way.name:28} not made by this server: {way.refused}")
            continue
        wal = "n/a" if way.wal_bytes is None else f"{way.wal_bytes / inserts / 1024:9.1f}"
        cpu = way.database_cpu / inserts * 1000
        print(
            f"{way.name:28} {p50_ms(way.seconds):14.2f} {cpu:10.2f} {wal:>9}"
            f" {p50_ms(way.query_seconds):13.2f}"
        )
    service = ways[0]
    print("\nratios (same run, the service's indexes / the other way):")
    for way in measurable[1:]:
        insert = p50_ms(service.seconds) / p50_ms(way.seconds)
        query = p50_ms(service.query_seconds) / p50_ms(way.query_seconds)
        print(f"  {way.name:28} insert {insert:5.1f}x   client-history query {query:5.2f}x")
    per_id = (p50_ms(service.seconds) - p50_ms(ways[1].seconds)) / ids * 1000
    print(f"\nthe clients index costs about {per_id:.0f} us per client id named")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--ids", type=int, default=400, help="clients one record names")
    parser.add_argument("--existing", type=int, default=20_000, help="records already stored")
    parser.add_argument("--inserts", type=int, default=60, help="inserts per way")
    args = parser.parse_args()
    asyncio.run(main(args.ids, args.existing, args.inserts))
