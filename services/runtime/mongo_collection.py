"""`Collection` over one MongoDB-wire collection (FerretDB v2 in the stack).

FerretDB v2 on DocumentDB keeps a PostgreSQL connection for every cursor it cannot answer
statelessly: a `find` with a sort or a positive limit and an aggregation (`count_documents`)
each take a connection out of its pool and close it when the cursor ends, so the next query
forks a new PostgreSQL backend (measured: 10 of 10 such queries opened a new backend; 939 new
backends in a 300-invitation benchmark, a third of the database's CPU). Hence: limits are sent
as single-batch (negative) limits with a batch size of the limit (without it FerretDB returns 101
documents and ends the cursor), sorts of unlimited reads are done here, and counts use the
`count` command; none of these keeps a connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pymongo import ASCENDING, ReplaceOne, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, OperationFailure, WriteError

from services.runtime import lookups
from services.runtime.coalesce import Coalescer
from services.runtime.collection import Collection, Document, Filter, Index, UniqueViolation
from services.runtime.conditional_writes import DocumentAt, FieldsAt

DUPLICATE_KEY = 11000
INDEX_NOT_FOUND = 27
# A single batch holds at most 16 MiB; pages this short of small documents stay far below.
SINGLE_BATCH_MAX = 1000
PRIMARY_KEY = "_id_"
# The batch size of an unlimited read: the server still stops each batch at 16 MiB.
WHOLE_BATCH = 100_000


def _sort_key(value: Any) -> tuple[int, Any]:
    """Missing values first, as MongoDB sorts them; the fields sorted on are strings."""
    return (0, "") if value is None else (1, value)


class MongoCollection:
    def __init__(self, collection: AsyncCollection[Document], indexes: Sequence[Index] = ()):
        self.raw = collection
        self.name = collection.name
        self.indexes = list(indexes)
        # concurrent look-ups (by id or other unique fields), inserts and updates go to the
        # server together (`coalesce.py`)
        self._insert: Coalescer[Document, bool] = Coalescer(self._insert_many)
        self._insert_lists: Coalescer[list[Document], None] = Coalescer(self._insert_all_many)
        self._update: Coalescer[UpdateOne, None] = Coalescer(self._update_many)
        self._find_unique: Coalescer[Filter, Document | None] = Coalescer(self._find_unique_many)
        self._set: Coalescer[FieldsAt, bool] = Coalescer(self._set_many)
        self._replace: Coalescer[DocumentAt, bool] = Coalescer(self._replace_many)

    async def ensure_indexes(self) -> None:
        for index in self.indexes:
            keys = [(field, ASCENDING) for field in index.fields]
            await self.raw.create_index(keys, unique=index.unique)

    async def index_fields(self) -> list[tuple[str, ...]]:
        return [tuple(info["key"]) async for info in await self.raw.list_indexes()]

    async def drop_index(self, index: Index) -> None:
        name = await self._index_name(index)
        if name is None:
            return
        try:
            await self.raw.drop_index(name)
        except OperationFailure as error:
            if error.code != INDEX_NOT_FOUND:  # another instance dropped it first: fine
                raise

    async def _index_name(self, index: Index) -> str | None:
        wanted = [(field, ASCENDING) for field in index.fields]
        async for info in await self.raw.list_indexes():
            if [(field, int(order)) for field, order in info["key"].items()] == wanted:
                return str(info["name"])
        return None

    async def get(self, key: str) -> Document | None:
        return await self._find_unique({"_id": key})

    async def find_one(self, where: Filter) -> Document | None:
        return await self.raw.find_one(dict(where))

    async def find_unique(self, where: Filter) -> Document | None:
        if not lookups.is_equality(where):
            return await self.find_one(where)
        return await self._find_unique(where)

    async def _find_unique_many(self, filters: list[Filter]) -> list[Document | None]:
        groups: dict[tuple[str, ...], list[int]] = {}
        for index, where in enumerate(filters):
            groups.setdefault(lookups.fields_of(where), []).append(index)
        found: list[Document | None] = [None] * len(filters)
        for indexes in groups.values():
            group = [filters[i] for i in indexes]
            if len(group) == 1:
                found[indexes[0]] = await self.find_one(group[0])
                continue
            # each filter picks out one document at most: they all fit in the first batch
            cursor = self.raw.find(lookups.combined(group)).batch_size(len(group) + 1)
            docs = await cursor.to_list(None)
            for i, doc in zip(indexes, lookups.answers(group, docs), strict=True):
                found[i] = doc
        return found

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
        if sort == "_id" and limit is not None and isinstance(where.get("_id"), dict):
            # A page of an `_id` range: walk the primary key in order and stop at the page's
            # end. DocumentDB's planner may pick a secondary index of the filter instead, then
            # sort everything it matched (a page of 100 of 5,000 matches: 11 ms against 1.1).
            cursor = cursor.hint(PRIMARY_KEY)
        if limit is not None and limit <= SINGLE_BATCH_MAX:
            if sort is not None:
                cursor = cursor.sort(sort, ASCENDING)
            # FerretDB cuts a single batch at the default 101 documents unless told its size
            return await cursor.limit(-limit).batch_size(limit).to_list(None)
        if limit is not None:  # too long for one batch: an ordinary cursor
            if sort is not None:
                cursor = cursor.sort(sort, ASCENDING)
            return await cursor.limit(limit).batch_size(limit).to_list(None)
        # Without a batch size the first batch stops at 101 documents and the rest costs a
        # getMore on a cursor left open (400 documents: 5.7 ms, in one batch 3.9 ms)
        docs = await cursor.batch_size(WHOLE_BATCH).to_list(None)
        if sort is not None:
            docs.sort(key=lambda doc: _sort_key(doc.get(sort)))
        return docs

    async def count(self, where: Filter) -> int:
        reply = await self.raw.database.command("count", self.name, query=dict(where))
        return int(reply["n"])

    async def insert(self, doc: Document) -> bool:
        return await self._insert(doc)

    async def _insert_many(self, docs: list[Document]) -> list[bool | BaseException]:
        """Servers word a duplicate-key error differently, so on that (rare) path the `_id` is
        looked up to tell "exists already" (False) from "another unique index"."""
        if len(docs) == 1:
            try:
                await self.raw.insert_one(dict(docs[0]))
            except DuplicateKeyError as exc:
                return [await self._clash(docs[0], str(exc))]
            return [True]
        try:
            await self.raw.insert_many([dict(doc) for doc in docs], ordered=False)
        except BulkWriteError as exc:
            answers: list[bool | BaseException] = [True] * len(docs)
            for error in exc.details.get("writeErrors", []):
                index, message = error["index"], str(error.get("errmsg", ""))
                if error.get("code") == DUPLICATE_KEY:
                    answers[index] = await self._clash(docs[index], message)
                else:
                    answers[index] = WriteError(message, error.get("code"), error)
            return answers
        return [True] * len(docs)

    async def _clash(self, doc: Document, message: str) -> bool | UniqueViolation:
        if await self.raw.find_one({"_id": doc["_id"]}, {"_id": 1}) is not None:
            return False
        return UniqueViolation(f"{self.name}: {message}")

    async def insert_all(self, docs: list[Document]) -> None:
        if docs:
            await self._insert_lists(docs)

    async def _insert_all_many(self, lists: list[list[Document]]) -> list[BaseException | None]:
        """The lists of one loop turn in one unordered insert (e.g. the history records of
        every change whose batch window opened together). A duplicate key leaves the stored
        document as it was; any other failure is its own list's."""
        docs = [dict(doc) for batch in lists for doc in batch]
        owners = [n for n, batch in enumerate(lists) for _ in batch]
        answers: list[BaseException | None] = [None] * len(lists)
        try:
            await self.raw.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                owner = owners[error["index"]]
                if error.get("code") != DUPLICATE_KEY and answers[owner] is None:
                    answers[owner] = WriteError(str(error.get("errmsg", "")), error.get("code"))
        return answers

    async def replace(self, doc: Document, expected_version: int) -> bool:
        return await self._replace(DocumentAt(doc, expected_version))

    async def _replace_many(self, changes: list[DocumentAt]) -> list[bool | BaseException]:
        return await self._conditional_bulk(
            changes, [ReplaceOne(c.where(), c.doc) for c in changes]
        )

    async def set_fields(self, key: str, expected_version: int, fields: Document) -> bool:
        return await self._set(FieldsAt(key, expected_version, fields))

    async def _set_many(self, changes: list[FieldsAt]) -> list[bool | BaseException]:
        """Outbox clears come together: a publish answers many handlers in one loop turn."""
        return await self._conditional_bulk(
            changes, [UpdateOne(c.where(), c.update()) for c in changes]
        )

    async def _conditional_bulk(
        self,
        changes: Sequence[DocumentAt | FieldsAt],
        bulk: list[ReplaceOne[Document]] | list[UpdateOne],
    ) -> list[bool | BaseException]:
        """Compare-and-set writes in one bulk write. It reports how many matched, not which:
        when some but not all did, each is judged by reading its document back
        (`conditional_writes`)."""
        answers: list[bool | BaseException] = [True] * len(changes)
        try:
            matched = (await self.raw.bulk_write(bulk, ordered=False)).matched_count
        except BulkWriteError as exc:
            matched = int(exc.details.get("nMatched", 0))
            for error in exc.details.get("writeErrors", []):
                message = str(error.get("errmsg", ""))
                answers[error["index"]] = (
                    UniqueViolation(f"{self.name}: {message}")
                    if error.get("code") == DUPLICATE_KEY
                    else WriteError(message, error.get("code"), error)
                )
        settled = [i for i, a in enumerate(answers) if a is True]
        if matched == 0:  # none or all of them matched: no need to ask which
            return [False if a is True else a for a in answers]
        if matched == len(settled):
            return answers
        keys = [changes[i].key for i in settled]
        cursor = self.raw.find({"_id": {"$in": keys}}).batch_size(len(keys) + 1)
        found = {d["_id"]: d for d in await cursor.to_list(None)}
        for i in settled:
            answers[i] = changes[i].landed_in(found.get(changes[i].key))
        return answers

    async def upsert_fields(self, key: str, fields: Document) -> None:
        await self._update(UpdateOne({"_id": key}, {"$set": fields}, upsert=True))

    async def push(self, key: str, field: str, value: Any) -> None:
        await self._update(UpdateOne({"_id": key}, {"$push": {field: value}}))

    async def _update_many(self, updates: list[UpdateOne]) -> list[BaseException | None]:
        """Updates whose callers need no count back (upserts, pushes), in one bulk write."""
        answers: list[BaseException | None] = [None] * len(updates)
        try:
            await self.raw.bulk_write(updates, ordered=False)
        except BulkWriteError as exc:
            for error in exc.details.get("writeErrors", []):
                answers[error["index"]] = WriteError(
                    str(error.get("errmsg", "")), error.get("code"), error
                )
        return answers

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
