"""Compare-and-set writes sent many at a time, and how to tell afterwards which of them landed.

Pure (no I/O). A bulk write reports how many of its updates matched, not which; when fewer
matched than were sent, `MongoCollection` reads the documents back and asks each write
`landed_in(doc)`: is this the next version, holding what that write put there? A later write
on top of it reads as "not landed", which the caller takes as a conflict and reads again:
never a lost write, at worst one more read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from services.runtime.collection import Document


def as_stored(value: Any) -> Any:
    """`value` as it reads back from the database: datetimes in UTC to the millisecond (BSON's
    precision; a naive one is taken as UTC, as the driver does), tuples as lists."""
    if isinstance(value, datetime):
        utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return utc.replace(microsecond=utc.microsecond - utc.microsecond % 1000)
    if isinstance(value, dict):
        return {key: as_stored(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [as_stored(item) for item in value]
    return value


@dataclass(frozen=True)
class FieldsAt:
    """`fields` to set on document `key` if it is at `version`."""

    key: str
    version: int
    fields: Document

    def where(self) -> Document:
        return {"_id": self.key, "version": self.version}

    def update(self) -> Document:
        return {"$set": self.fields, "$inc": {"version": 1}}

    def landed_in(self, doc: Document | None) -> bool:
        return (
            doc is not None
            and doc.get("version") == self.version + 1
            and all(as_stored(doc.get(name)) == as_stored(v) for name, v in self.fields.items())
        )


@dataclass(frozen=True)
class DocumentAt:
    """`doc` to replace the stored document with, if that is at `version`."""

    doc: Document
    version: int

    @property
    def key(self) -> Any:
        return self.doc["_id"]

    def where(self) -> Document:
        return {"_id": self.key, "version": self.version}

    def landed_in(self, stored: Document | None) -> bool:
        return stored is not None and as_stored(stored) == as_stored(self.doc)
