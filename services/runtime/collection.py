"""The storage the unit of work needs, as a protocol: one document per key, a `version` for
compare-and-set writes, a few queries. `MongoCollection` and `MemoryCollection` implement it
with the same behaviour (tests/runtime/test_collection_contract.py runs both)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

Document = dict[str, Any]
# A MongoDB filter, limited to what MemoryCollection understands: equality (an array field
# matches when one element does, or when it equals the whole array), $gt $gte $lt $lte $ne $in
# $exists, a top-level $or, dotted paths.
Filter = Mapping[str, Any]


class VersionConflict(Exception):
    """Someone else changed the document since it was read: read again and decide again."""


class UniqueViolation(Exception):
    """Another document already holds a value of a unique index."""


@dataclass(frozen=True)
class Index:
    fields: tuple[str, ...]
    unique: bool = False


class Collection(Protocol):
    name: str

    async def ensure_indexes(self) -> None: ...

    async def index_fields(self) -> list[tuple[str, ...]]:
        """The fields of each index the collection has, in their order."""
        ...

    async def drop_index(self, index: Index) -> None:
        """Drop the index on these fields, if there is one (a retired index)."""
        ...

    async def get(self, key: str) -> Document | None: ...

    async def find_one(self, where: Filter) -> Document | None: ...

    async def find_unique(self, where: Filter) -> Document | None:
        """The document an equality filter picks out, for fields that identify at most one
        document (a unique slot, an account and a member). Look-ups of the same fields made
        at about the same moment go to the server as one query."""
        ...

    async def find(
        self,
        where: Filter,
        *,
        sort: str | None = None,
        limit: int | None = None,
        omit: Sequence[str] = (),
        only: Sequence[str] = (),
    ) -> list[Document]:
        """Matching documents, without the fields named in `omit`; with `only`, just those
        fields (and `_id`)."""
        ...

    async def count(self, where: Filter) -> int: ...

    async def insert(self, doc: Document) -> bool:
        """Store `doc` (with its `_id`); False when that `_id` exists. UniqueViolation when
        another document holds one of its unique values."""
        ...

    async def insert_all(self, docs: list[Document]) -> None:
        """Store each of `docs` whose `_id` is new, in one round trip (shared with the other
        `insert_all` calls of the same loop turn); those that exist stay."""
        ...

    async def replace(self, doc: Document, expected_version: int) -> bool:
        """Replace the document `doc["_id"]` if it is at `expected_version`; False if not."""
        ...

    async def set_fields(self, key: str, expected_version: int, fields: Document) -> bool:
        """Set `fields` and bump `version`, if at `expected_version`; False if not."""
        ...

    async def upsert_fields(self, key: str, fields: Document) -> None:
        """Set `fields` whatever the version (projections of other services' events)."""
        ...

    async def push(self, key: str, field: str, value: Any) -> None: ...

    async def delete(self, key: str, expected_version: int) -> bool: ...


class Storage(Protocol):
    """Where a service's collections live: one MongoDB database, or memory."""

    def collection(self, name: str, indexes: Sequence[Index] = ()) -> Collection: ...
