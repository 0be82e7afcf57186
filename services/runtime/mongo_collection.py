"""`Collection` over one MongoDB-wire collection (FerretDB v2 in the stack).

FerretDB v2 on DocumentDB keeps a PostgreSQL connection for every cursor it cannot answer
statelessly: a `find` with a sort or a positive limit and an aggregation (`count_documents`)
each take a connection out of its pool and close it when the cursor ends, so the next query
forks a new PostgreSQL backend (measured: 10 of 10 such queries opened a new backend; 939 new
backends in a 300-invitation benchmark, a third of the database's CPU). Hence: limits are sent
as single-batch (negative) limits, sorts of unlimited reads are done here, and counts use the
`count` command; none of these keeps a connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.runtime.collection import Collection, Document, Filter, Index, UniqueViolation

# A single batch holds at most 16 MiB; pages this short of small documents stay far below.
SINGLE_BATCH_MAX = 1000


def _sort_key(value: Any) -> tuple[int, Any]:
    """Missing values first, as MongoDB sorts them; the fields sorted on are strings."""
    return (0, "") if value is None else (1, value)


class MongoCollection:
    def __init__(self, collection: AsyncCollection[Document], indexes: Sequence[Index] = ()):
        self.raw = collection
        self.name = collection.name
        self.indexes = list(indexes)

    async def ensure_indexes(self) -> None:
        for index in self.indexes:
            keys = [(field, ASCENDING) for field in index.fields]
            await self.raw.create_index(keys, unique=index.unique)

    async def get(self, key: str) -> Document | None:
        return await self.raw.find_one({"_id": key})

    async def find_one(self, where: Filter) -> Document | None:
        return await self.raw.find_one(dict(where))

    async def find(
        self,
        where: Filter,
        *,
        sort: str | None = None,
        limit: int | None = None,
        omit: Sequence[str] = (),
        only: Sequence[str] = (),
    ) -> list[Document]:
        projection = {f: 1 for f in only} if only else {f: 0 for f in omit} if omit else None
        cursor = self.raw.find(dict(where), projection)
        if limit is not None and limit <= SINGLE_BATCH_MAX:
            if sort is not None:
                cursor = cursor.sort(sort, ASCENDING)
            return await cursor.limit(-limit).to_list(None)
        if limit is not None:
            cursor = cursor.sort(sort or "_id", ASCENDING).limit(limit)
            return await cursor.to_list(None)
        docs = await cursor.to_list(None)
        if sort is not None:
            docs.sort(key=lambda doc: _sort_key(doc.get(sort)))
        return docs

    async def count(self, where: Filter) -> int:
        reply = await self.raw.database.command("count", self.name, query=dict(where))
        return int(reply["n"])

    async def insert(self, doc: Document) -> bool:
        """Servers word a duplicate-key error differently, so on that (rare) path the `_id` is
        looked up to tell "exists already" from "another unique index"."""
        try:
            await self.raw.insert_one(dict(doc))
        except DuplicateKeyError as exc:
            if await self.raw.find_one({"_id": doc["_id"]}, {"_id": 1}) is not None:
                return False
            raise UniqueViolation(f"{self.name}: {exc}") from exc
        return True

    async def insert_all(self, docs: list[Document]) -> None:
        if not docs:
            return
        try:
            await self.raw.insert_many([dict(doc) for doc in docs], ordered=False)
        except BulkWriteError as exc:
            others = [e for e in exc.details.get("writeErrors", []) if e.get("code") != 11000]
            if others:
                raise

    async def replace(self, doc: Document, expected_version: int) -> bool:
        try:
            result = await self.raw.replace_one(
                {"_id": doc["_id"], "version": expected_version}, doc
            )
        except DuplicateKeyError as exc:
            raise UniqueViolation(f"{self.name}: {exc}") from exc
        return result.matched_count == 1

    async def set_fields(self, key: str, expected_version: int, fields: Document) -> bool:
        result = await self.raw.update_one(
            {"_id": key, "version": expected_version},
            {"$set": fields, "$inc": {"version": 1}},
        )
        return result.matched_count == 1

    async def upsert_fields(self, key: str, fields: Document) -> None:
        await self.raw.update_one({"_id": key}, {"$set": fields}, upsert=True)

    async def push(self, key: str, field: str, value: Any) -> None:
        await self.raw.update_one({"_id": key}, {"$push": {field: value}})

    async def delete(self, key: str, expected_version: int) -> bool:
        result = await self.raw.delete_one({"_id": key, "version": expected_version})
        return result.deleted_count == 1


class MongoStorage:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.db = db
        self.collections: dict[str, MongoCollection] = {}

    def collection(self, name: str, indexes: Sequence[Index] = ()) -> Collection:
        if name not in self.collections:
            self.collections[name] = MongoCollection(self.db[name], indexes)
        return self.collections[name]
