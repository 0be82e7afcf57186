"""Optimistic concurrency on single documents: the only atomicity FerretDB and MongoDB share."""

from __future__ import annotations

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError, OperationFailure

from services.runtime.mongo import Document

MAX_REMEMBERED_COMMANDS = 200


class _Server:
    """Which server we write to. FerretDB evaluates any filter but `{_id: x}` document by
    document in Go (6x slower on 10,000 documents, measured), and its conditional writes are
    not atomic anyway; against it, a versioned write is a read of the version by `_id` followed
    by a write by `_id`. Against MongoDB it stays one atomic conditional write."""

    ferretdb = False


async def detect_server(client: AsyncMongoClient[Document]) -> None:
    info = await client.admin.command("buildInfo")
    _Server.ferretdb = "ferretdbVersion" in info


async def update_versioned(
    collection: AsyncCollection[Document], doc_id: object, version: int, update: Document
) -> bool:
    """Apply `update` if the document is still at `version`; False when it is not."""
    if _Server.ferretdb:
        current = await collection.find_one({"_id": doc_id}, {"version": 1})
        if current is None or current.get("version") != version:
            return False
        result = await collection.update_one({"_id": doc_id}, update)
    else:
        result = await collection.update_one({"_id": doc_id, "version": version}, update)
    return result.matched_count == 1


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
        if _Server.ferretdb:
            current = await collection.find_one({"_id": doc["_id"]}, {"version": 1})
            if current is None or current.get("version") != expected:
                raise VersionConflict(str(doc["_id"]))
            result = await collection.replace_one({"_id": doc["_id"]}, new_doc)
        else:
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
