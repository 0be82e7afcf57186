"""Collections in memory, with the behaviour of `MongoCollection`: for handler tests that run
without servers, and for nothing in production."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from services.runtime.collection import Collection, Document, Filter, Index, UniqueViolation

_MISSING = object()


def _lookup(doc: Any, path: str) -> Any:
    value = doc
    for part in path.split("."):
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        elif isinstance(value, list) and part.isdigit():
            index = int(part)
            value = value[index] if index < len(value) else _MISSING
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def _compare(value: Any, operator: str, operand: Any) -> bool:
    if value is _MISSING or value is None:
        return False
    if operator == "$gt":
        return bool(value > operand)
    if operator == "$gte":
        return bool(value >= operand)
    if operator == "$lt":
        return bool(value < operand)
    if operator == "$lte":
        return bool(value <= operand)
    raise ValueError(f"MemoryCollection does not understand {operator}")


def _one_matches(value: Any, condition: Any) -> bool:
    """A condition on one (non-array) value."""
    if not isinstance(condition, dict):
        return bool(value == condition)
    for operator, operand in condition.items():
        if operator == "$in":
            if value not in operand:
                return False
        elif operator == "$ne":
            if value == operand:
                return False
        elif not _compare(value, operator, operand):
            return False
    return True


def _matches_field(doc: Document, path: str, condition: Any) -> bool:
    value = _lookup(doc, path)
    if isinstance(condition, dict) and "$exists" in condition:
        if (value is not _MISSING) != bool(condition["$exists"]):
            return False
        condition = {k: v for k, v in condition.items() if k != "$exists"}
        if not condition:
            return True
    if isinstance(condition, dict) and "$ne" in condition and isinstance(value, list):
        return condition["$ne"] not in value
    if isinstance(value, list):
        return _one_matches(value, condition) or any(_one_matches(v, condition) for v in value)
    return _one_matches(None if value is _MISSING else value, condition)


def matches(doc: Document, where: Filter) -> bool:
    return all(
        any(matches(doc, alternative) for alternative in condition)
        if path == "$or"
        else _matches_field(doc, path, condition)
        for path, condition in where.items()
    )


class MemoryCollection:
    def __init__(self, name: str, indexes: Sequence[Index] = ()) -> None:
        self.name = name
        self.indexes = list(indexes)
        self.docs: dict[str, Document] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def index_fields(self) -> list[tuple[str, ...]]:
        return [index.fields for index in self.indexes]

    async def drop_index(self, index: Index) -> None:
        self.indexes = [known for known in self.indexes if known.fields != index.fields]

    def _check_unique(self, doc: Document) -> None:
        for fields in (index.fields for index in self.indexes if index.unique):
            values = tuple(doc.get(f) for f in fields)
            for other in self.docs.values():
                if other["_id"] != doc["_id"] and tuple(other.get(f) for f in fields) == values:
                    raise UniqueViolation(f"{self.name}: {dict(zip(fields, values, strict=True))}")

    async def get(self, key: str) -> Document | None:
        doc = self.docs.get(key)
        return None if doc is None else copy.deepcopy(doc)

    async def find_one(self, where: Filter) -> Document | None:
        found = await self.find(where, limit=1)
        return found[0] if found else None

    async def find_unique(self, where: Filter) -> Document | None:
        return await self.find_one(where)

    async def find(
        self,
        where: Filter,
        *,
        sort: str | None = None,
        limit: int | None = None,
        omit: Sequence[str] = (),
        only: Sequence[str] = (),
    ) -> list[Document]:
        found = [
            {
                k: copy.deepcopy(v)
                for k, v in d.items()
                if k not in omit and (not only or k in only or k == "_id")
            }
            for d in self.docs.values()
            if matches(d, where)
        ]
        if sort is not None:
            found.sort(key=lambda d: (d[sort], d["_id"]))
        return found if limit is None else found[:limit]

    async def count(self, where: Filter) -> int:
        return len(await self.find(where))

    async def insert(self, doc: Document) -> bool:
        if doc["_id"] in self.docs:
            return False
        self._check_unique(doc)
        self.docs[doc["_id"]] = copy.deepcopy(doc)
        return True

    async def insert_all(self, docs: list[Document]) -> None:
        for doc in docs:
            await self.insert(doc)

    async def replace(self, doc: Document, expected_version: int) -> bool:
        current = self.docs.get(doc["_id"])
        if current is None or current.get("version") != expected_version:
            return False
        self._check_unique(doc)
        self.docs[doc["_id"]] = copy.deepcopy(doc)
        return True

    async def set_fields(self, key: str, expected_version: int, fields: Document) -> bool:
        current = self.docs.get(key)
        if current is None or current.get("version") != expected_version:
            return False
        current.update(copy.deepcopy(fields))
        current["version"] = expected_version + 1
        return True

    async def upsert_fields(self, key: str, fields: Document) -> None:
        self.docs.setdefault(key, {"_id": key}).update(copy.deepcopy(fields))

    async def push(self, key: str, field: str, value: Any) -> None:
        if key in self.docs:
            self.docs[key].setdefault(field, []).append(copy.deepcopy(value))

    async def delete(self, key: str, expected_version: int) -> bool:
        current = self.docs.get(key)
        if current is None or current.get("version") != expected_version:
            return False
        del self.docs[key]
        return True


class MemoryStorage:
    def __init__(self) -> None:
        self.collections: dict[str, MemoryCollection] = {}

    def collection(self, name: str, indexes: Sequence[Index] = ()) -> Collection:
        if name not in self.collections:
            self.collections[name] = MemoryCollection(name, indexes)
        return self.collections[name]
