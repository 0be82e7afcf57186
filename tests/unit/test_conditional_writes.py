"""Whether a compare-and-set write landed, judged from the document read back after a bulk
write (which reports only how many matched)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from services.runtime.conditional_writes import DocumentAt, FieldsAt, as_stored

AT = datetime(2026, 11, 28, 12, 0, 0, 123_456, tzinfo=UTC)
STORED_AT = AT.replace(microsecond=123_000)  # BSON keeps milliseconds


def test_values_read_back_as_the_database_keeps_them() -> None:
    paris = AT.astimezone(timezone(timedelta(hours=1)))
    assert as_stored(paris) == STORED_AT
    assert as_stored(AT.replace(tzinfo=None)) == STORED_AT  # naive: UTC, as the driver takes it
    assert as_stored({"a": (1, [AT])}) == {"a": [1, [STORED_AT]]}


def test_a_replace_landed_when_the_document_is_the_one_it_wrote() -> None:
    write = DocumentAt({"_id": "d", "version": 4, "tags": ("a",), "at": AT}, 3)
    assert write.where() == {"_id": "d", "version": 3}
    assert write.landed_in({"_id": "d", "version": 4, "tags": ["a"], "at": STORED_AT})
    assert not write.landed_in({"_id": "d", "version": 4, "tags": ["b"], "at": STORED_AT})
    assert not write.landed_in({"_id": "d", "version": 5, "tags": ["a"], "at": STORED_AT})
    assert not write.landed_in(None)


def test_a_field_update_landed_when_the_next_version_holds_its_fields() -> None:
    write = FieldsAt("d", 3, {"outbox": [], "due": AT})
    assert write.update() == {"$set": {"outbox": [], "due": AT}, "$inc": {"version": 1}}
    assert write.landed_in({"_id": "d", "version": 4, "outbox": [], "due": STORED_AT, "x": 1})
    assert not write.landed_in({"_id": "d", "version": 5, "outbox": [], "due": STORED_AT})
    assert not write.landed_in({"_id": "d", "version": 4, "outbox": ["e"], "due": STORED_AT})
