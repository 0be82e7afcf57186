"""What the code relies on from the database: compare-and-set versioned writes, `_id` look-ups
that seek an index (flat cost as the collection grows), and refusal of anonymous clients."""

from __future__ import annotations

import asyncio
import statistics
import time
from urllib.parse import urlsplit, urlunsplit

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure

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
