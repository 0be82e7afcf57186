"""Optimistic concurrency on single documents: compare-and-set writes on MongoDB and FerretDB v2."""

from __future__ import annotations

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.runtime.mongo import Document

MAX_REMEMBERED_COMMANDS = 200


async def update_versioned(
    collection: AsyncCollection[Document], doc_id: object, version: int, update: Document
) -> bool:
    """Apply `update` if the document is still at `version` (compare-and-set); False if not."""
    result = await collection.update_one({"_id": doc_id, "version": version}, update)
    return result.matched_count == 1


class VersionConflict(Exception):
    """Someone else changed the document since it was read: read again and decide again."""


async def insert_new(collection: AsyncCollection[Document], doc: Document) -> bool:
    """Insert at version 1; False when a document with that `_id` already exists.

    A clash on another unique index raises DuplicateKeyError. Servers word the error
    differently, so the `_id` is looked up (on this rare path only) to tell the two apart.
    """
    try:
        await collection.insert_one({**doc, "version": 1})
    except DuplicateKeyError:
        if await collection.find_one({"_id": doc["_id"]}, {"_id": 1}) is not None:
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
