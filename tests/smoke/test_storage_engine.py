"""What the code relies on from the database: compare-and-set versioned writes, `_id` look-ups
that seek an index (flat cost as the collection grows), pages that walk the primary key in
order, and refusal of anonymous clients."""

from __future__ import annotations

import asyncio
import statistics
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from pymongo import AsyncMongoClient, monitoring
from pymongo.errors import OperationFailure

from services.access_control.store import in_key_order
from services.runtime.mongo import Document, make_client
from services.runtime.mongo_collection import MongoCollection
from tests.servers import Servers

RACE_ROUNDS = 200


async def test_two_writers_racing_on_one_version_never_both_win(
    servers: Servers, unique: str
) -> None:
    """Each round, two clients (own connection pools) CAS the same document at version 0."""
    first, second = make_client(servers.mongodb_uri), make_client(servers.mongodb_uri)
    try:
        mine = MongoCollection(first[f"cas_{unique}"]["race"])
        theirs = MongoCollection(second[f"cas_{unique}"]["race"])
        await mine.raw.insert_many([{"_id": f"d{i}", "version": 0} for i in range(RACE_ROUNDS)])
        double_wins = lost_rounds = 0
        for i in range(RACE_ROUNDS):
            results = await asyncio.gather(
                mine.set_fields(f"d{i}", 0, {"writer": "mine"}),
                theirs.set_fields(f"d{i}", 0, {"writer": "theirs"}),
            )
            double_wins += results.count(True) > 1
            lost_rounds += results.count(True) == 0
        assert (double_wins, lost_rounds) == (0, 0)
        assert await mine.count({"version": 1}) == RACE_ROUNDS
    finally:
        await first.close()
        await second.close()


async def test_replace_versioned_refuses_a_stale_copy(
    mongo: AsyncMongoClient[Document], unique: str
) -> None:
    collection = MongoCollection(mongo[f"cas_{unique}"]["docs"])
    assert await collection.insert({"_id": "a", "version": 1, "name": "first"})
    assert await collection.replace({"_id": "a", "version": 2, "name": "second"}, 1)
    assert not await collection.replace({"_id": "a", "version": 2, "name": "stale"}, 1)
    assert (await collection.get("a") or {})["name"] == "second"


async def _lookup_ms(mongo: AsyncMongoClient[Document], name: str, size: int) -> float:
    collection = mongo[name]["docs"]
    for start in range(0, size, 10_000):  # FerretDB takes at most 25,000 writes a batch
        stop = min(size, start + 10_000)
        await collection.insert_many(
            [{"_id": f"d{i}", "pad": "x" * 200} for i in range(start, stop)]
        )
    for i in range(100):  # warm the cache the way a running service has it warm
        await collection.find_one({"_id": f"d{(i * 7919) % size}"})
    samples = []
    for i in range(300):
        began = time.perf_counter()
        assert await collection.find_one({"_id": f"d{(i * 7919) % size}"}) is not None
        samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples)


async def test_an_id_lookup_costs_the_same_at_10k_and_60k_documents(
    mongo: AsyncMongoClient[Document], unique: str
) -> None:
    small = await _lookup_ms(mongo, f"seek10k_{unique}", 10_000)
    large = await _lookup_ms(mongo, f"seek60k_{unique}", 60_000)
    print(f"\n_id look-up p50: {small:.2f} ms at 10k, {large:.2f} ms at 60k")
    assert large <= 2 * max(small, 0.5)


async def test_a_client_without_credentials_is_refused(servers: Servers) -> None:
    parts = urlsplit(servers.mongodb_uri)
    anonymous_uri = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1], query=""))
    client = make_client(anonymous_uri)
    try:
        with pytest.raises(OperationFailure) as refused:
            await client["anything"]["docs"].find_one({})
        assert refused.value.code in (13, 18)  # Unauthorized / AuthenticationFailed
    finally:
        await client.close()


def _plan_steps(plan: object) -> list[str]:
    """Every step of an explain's plan: DocumentDB's `Node Type`s, MongoDB's `stage`s."""
    if isinstance(plan, dict):
        own = [str(v) for k, v in plan.items() if k in ("Node Type", "stage")]
        return own + [step for value in plan.values() for step in _plan_steps(value)]
    if isinstance(plan, list):
        return [step for value in plan for step in _plan_steps(value)]
    return []


class _Finds(monitoring.CommandListener):
    """The `find` commands a client sends."""

    def __init__(self) -> None:
        self.sent: list[Document] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.command_name == "find":
            self.sent.append(dict(event.command))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


async def test_a_page_in_key_order_walks_the_primary_key_without_sorting(
    servers: Servers, unique: str
) -> None:
    """access_control reads a page of an account's clients as a range of `_id` ("<account>|<id>")
    sorted by `_id`, so that the database stops at the page's end rather than sorting every
    client it matched (DocumentDB's secondary indexes cannot return rows in order, and its
    planner, left to itself, may take the tags index: then it sorts 5,000 clients for 100)."""
    finds = _Finds()
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        servers.mongodb_uri, tz_aware=True, event_listeners=[finds]
    )
    try:
        db = client[f"keyorder_{unique}"]
        await db["clients"].create_index([("account_id", 1), ("tags", 1)])
        await db["clients"].insert_many(
            [
                {
                    "_id": f"{acct}|c{i:04d}",
                    "account_id": acct,
                    "client_id": f"c{i:04d}",
                    "tags": [f"t{i % 4}"],
                }
                for acct in ("acct-a", "acct-b")
                for i in range(3000)
            ]
        )
        where = {**in_key_order("acct-a", "c0100"), "tags": {"$in": ["t0", "t1"]}}
        page = await MongoCollection(db["clients"]).find(where, sort="_id", limit=100)
        assert [d["client_id"] for d in page] == [
            f"c{i:04d}" for i in range(101, 301) if i % 4 < 2
        ][:100]

        async def steps(find: Document) -> list[str]:
            find = {k: v for k, v in find.items() if k not in ("$db", "lsid", "$clusterTime")}
            return _plan_steps(await db.command({"explain": find, "verbosity": "queryPlanner"}))

        walked = await steps(finds.sent[-1])
        assert walked and not [s for s in walked if "sort" in s.lower()], walked
        sorting = await steps({"find": "clients", "filter": where, "sort": {"pad": 1}, "limit": 9})
        assert [s for s in sorting if "sort" in s.lower()], sorting  # the check can fail
    finally:
        await client.close()
