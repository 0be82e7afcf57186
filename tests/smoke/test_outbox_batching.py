"""On the real MongoDB-wire server: the outbox clears of handlers answered within the batch
window reach the server as one request, and leave every outbox empty; so do the local records
(`insert_all`) released together."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pymongo import AsyncMongoClient

from services.runtime.mongo import Document
from services.runtime.mongo_collection import MongoCollection, MongoStorage
from services.runtime.outbox import Outbox
from services.runtime.publisher import MemoryPublisher
from services.runtime.unit_of_work import Cause, Repository, UnitOfWork
from tests.storage_contract import Note, NoteCodec, event

NOTES = [f"note-{n}" for n in range(5)]


async def test_the_clears_of_a_window_reach_the_server_as_one_request(
    mongo: AsyncMongoClient[Document], unique: str
) -> None:
    name = f"batching_{unique}"
    try:
        collection = MongoStorage(mongo[name]).collection("notes")
        assert isinstance(collection, MongoCollection)
        bulk_writes: list[int] = []  # the number of writes in each bulk request
        bulk_write = collection.raw.bulk_write

        async def counted(requests: Sequence[Any], **options: Any) -> Any:
            bulk_writes.append(len(requests))
            return await bulk_write(requests, **options)

        collection.raw.bulk_write = counted  # type: ignore[method-assign]
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
    finally:
        await mongo.drop_database(name)


async def test_lists_inserted_in_one_loop_turn_reach_the_server_as_one_request(
    mongo: AsyncMongoClient[Document], unique: str
) -> None:
    """The history records of the changes a batch window released together go as one insert
    (each had gone as its own request: three here)."""
    name = f"batching_{unique}"
    try:
        collection = MongoStorage(mongo[name]).collection("records")
        assert isinstance(collection, MongoCollection)
        inserts: list[int] = []  # the number of documents in each insert request
        insert_many = collection.raw.insert_many

        async def counted(docs: Sequence[Document], **options: Any) -> Any:
            inserts.append(len(docs))
            return await insert_many(docs, **options)

        collection.raw.insert_many = counted  # type: ignore[method-assign]
        await asyncio.gather(
            collection.insert_all([{"_id": "r1"}, {"_id": "r2"}]),
            collection.insert_all([{"_id": "r3"}]),
            collection.insert_all([{"_id": "r4"}, {"_id": "r5"}]),
        )
        assert inserts == [5]
        assert len(await collection.find({})) == 5
    finally:
        await mongo.drop_database(name)
