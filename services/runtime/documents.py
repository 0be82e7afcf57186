"""Optimistic concurrency on single documents: the only atomicity FerretDB and MongoDB share."""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.runtime.mongo import Document

MAX_REMEMBERED_COMMANDS = 200


class VersionConflict(Exception):
    """Someone else changed the document since it was read: read again and decide again."""


async def insert_new(collection: AsyncCollection[Document], doc: Document) -> bool:
    """Insert at version 1; False when a document with that `_id` already exists."""
    try:
        await collection.insert_one({**doc, "version": 1})
    except DuplicateKeyError as exc:
        if "_id" in str(exc.details or exc):
            return False
        raise
    doc["version"] = 1
    return True


async def replace_versioned(collection: AsyncCollection[Document], doc: Document) -> Document:
    """Write `doc` if it is still at the version it was read at; returns it at the new version."""
    expected = doc["version"]
    new_doc = {**doc, "version": expected + 1}
    result = await collection.replace_one({"_id": doc["_id"], "version": expected}, new_doc)
    if result.matched_count == 0:
        raise VersionConflict(str(doc["_id"]))
    return new_doc


def remember_command(doc: Document, command_id: str) -> None:
    """Record a handled command id in the aggregate itself (same write as its effects)."""
    handled = [*doc.get("handled_commands", []), command_id]
    doc["handled_commands"] = handled[-MAX_REMEMBERED_COMMANDS:]


def has_handled(doc: Document | None, command_id: str) -> bool:
    return doc is not None and command_id in doc.get("handled_commands", [])
