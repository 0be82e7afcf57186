"""On the real MongoDB-wire server: the outbox clears of handlers answered within the batch
window reach the server as one request, and leave every outbox empty; so do the local records
(`insert_all`) released together."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from pymongo import AsyncMongoClient

from services.runtime.mongo import Document
from services.runtime.mongo_collection import MongoCollection, MongoStorage
from services.runtime.outbox import Outbox
from services.runtime.publisher import MemoryPublisher
from services.runtime.unit_of_work import Cause, Repository, UnitOfWork
from tests.storage_contract import Note, NoteCodec, event

NOTES = [f"note-{n}" for n in range(5)]


@contextlib.asynccontextmanager
async def scratch_collection(
    mongo: AsyncMongoClient[Document], unique: str, name: str
) -> AsyncIterator[MongoCollection]:
    database = f"batching_{unique}"
    try:
        collection = MongoStorage(mongo[database]).collection(name)
        assert isinstance(collection, MongoCollection)
        yield collection
    finally:
        await mongo.drop_database(database)


def request_sizes(collection: MongoCollection, method: str) -> list[int]:
    """The number of writes (or documents) in each request the raw collection's `method`
    sends from now on."""
    sizes: list[int] = []
    send = getattr(collection.raw, method)

    async def counted(items: Sequence[Any], **options: Any) -> Any:
        sizes.append(len(items))
        return await send(items, **options)

    setattr(collection.raw, method, counted)
    return sizes


async def test_the_clears_of_a_window_reach_the_server_as_one_request(
    mongo: AsyncMongoClient[Document], unique: str
) -> None:
    async with scratch_collection(mongo, unique, "notes") as collection:
        bulk_writes = request_sizes(collection, "bulk_write")
        outbox = Outbox(MemoryPublisher(), batch_window=0.3)
        notes = Repository(collection, NoteCodec())
        for n, note in enumerate(NOTES):  # one after the other, as one account's commands run
            uow = UnitOfWork(outbox, "/test", "test.events", Cause(note, "acct-1", note, note))
            await uow.commit(await uow.load(notes, note), Note(note, "acct-1", "x"), [event(n)])
        assert bulk_writes == []  # new documents are inserts; no clear has gone yet

        await asyncio.sleep(0.8)
        assert bulk_writes == [len(NOTES)]
        docs = await collection.find({"_id": {"$in": NOTES}})
        assert sorted(d["_id"] for d in docs) == NOTES
        assert all(d["outbox"] == [] and d["version"] == 2 for d in docs)


async def test_lists_inserted_in_one_loop_turn_reach_the_server_as_one_request(
    mongo: AsyncMongoClient[Document], unique: str
) -> None:
    """The history records of the changes a batch window released together go as one insert
    (each had gone as its own request: three here)."""
    async with scratch_collection(mongo, unique, "records") as collection:
        inserts = request_sizes(collection, "insert_many")
        await asyncio.gather(
            collection.insert_all([{"_id": "r1"}, {"_id": "r2"}]),
            collection.insert_all([{"_id": "r3"}]),
            collection.insert_all([{"_id": "r4"}, {"_id": "r5"}]),
        )
        assert inserts == [5]
        assert len(await collection.find({})) == 5
