"""Optimistic concurrency on single documents: the only atomicity FerretDB and MongoDB share."""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, OperationFailure

from services.runtime.mongo import Document

MAX_REMEMBERED_COMMANDS = 200


class VersionConflict(Exception):
    """Someone else changed the document since it was read: read again and decide again."""


def is_unique_violation(exc: OperationFailure) -> bool:
    """MongoDB says 11000 (DuplicateKeyError); FerretDB/SQLite says so only on inserts and
    reports an update that breaks a unique index as InternalError "UNIQUE constraint failed"."""
    return isinstance(exc, DuplicateKeyError) or "UNIQUE constraint failed" in str(exc)


async def insert_new(collection: AsyncCollection[Document], doc: Document) -> bool:
    """Insert at version 1; False when a document with that `_id` already exists.

    A clash on another unique index raises DuplicateKeyError (FerretDB's error does not name
    the index, so we look the `_id` up to tell the two apart).
    """
    try:
        await collection.insert_one({**doc, "version": 1})
    except OperationFailure as exc:
        if not is_unique_violation(exc):
            raise
        if await collection.find_one({"_id": doc["_id"]}, {"_id": 1}) is not None:
            return False
        raise DuplicateKeyError(str(exc), 11000) from exc
    doc["version"] = 1
    return True


async def replace_versioned(collection: AsyncCollection[Document], doc: Document) -> Document:
    """Write `doc` if it is still at the version it was read at; returns it at the new version."""
    expected = doc["version"]
    new_doc = {**doc, "version": expected + 1}
    try:
        result = await collection.replace_one({"_id": doc["_id"], "version": expected}, new_doc)
    except OperationFailure as exc:
        if is_unique_violation(exc):
            raise DuplicateKeyError(str(exc), 11000) from exc
        raise
    if result.matched_count == 0:
        raise VersionConflict(str(doc["_id"]))
    return new_doc


def remember_command(doc: Document, command_id: str) -> None:
    """Record a handled command id in the aggregate itself (same write as its effects)."""
    handled = [*doc.get("handled_commands", []), command_id]
    doc["handled_commands"] = handled[-MAX_REMEMBERED_COMMANDS:]


def has_handled(doc: Document | None, command_id: str) -> bool:
    return doc is not None and command_id in doc.get("handled_commands", [])
