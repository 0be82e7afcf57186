"""A handler's bookkeeping writes (the clear of its published outbox, its local entries) wait up
to the outbox's batch window to start together with those of the handlers answered meanwhile.
Nothing that needs one of them done waits out the window: the next write of the same document,
a reader of the local entries, a stop."""

from __future__ import annotations

import asyncio

from services.runtime.collection import Collection, Document
from services.runtime.memory_collection import MemoryStorage
from services.runtime.outbox import Outbox
from services.runtime.publisher import MemoryPublisher
from services.runtime.unit_of_work import Cause, Repository, UnitOfWork
from tests.handlers.test_outbox_local_entries import Sink, commit_with_record, outbox_of
from tests.handlers.test_outbox_local_entries import setup as setup_with_records
from tests.storage_contract import Note, NoteCodec, event

LONG = 30.0  # a window no test here may wait out: each step has a 5 s timeout


class ClearsTimed:
    """A collection that notes when each outbox clear was asked for."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self.cleared_at: list[float] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self.collection, name)

    async def set_fields(self, key: str, expected_version: int, fields: Document) -> bool:
        self.cleared_at.append(asyncio.get_running_loop().time())
        return await self.collection.set_fields(key, expected_version, fields)


def setup(window: float) -> tuple[ClearsTimed, Repository[Note], MemoryPublisher, Outbox]:
    timed = ClearsTimed(MemoryStorage().collection("notes"))
    publisher = MemoryPublisher()
    outbox = Outbox(publisher, batch_window=window)
    return timed, Repository(timed, NoteCodec()), publisher, outbox  # type: ignore[arg-type]


async def commit(outbox: Outbox, notes: Repository[Note], note: str, text: str, n: int) -> None:
    cause = f"{note}-{n}"
    uow = UnitOfWork(outbox, "/test", "test.events", Cause(cause, "acct-1", cause, cause))
    await uow.commit(await uow.load(notes, note), Note(note, "acct-1", text), [event(n)])


async def test_the_clears_of_commits_answered_within_the_window_start_together() -> None:
    timed, notes, publisher, outbox = setup(0.2)
    loop = asyncio.get_running_loop()
    first = loop.time()
    for n, note in enumerate(("ann", "bob", "cat")):
        await asyncio.wait_for(commit(outbox, notes, note, "x", n), timeout=5)
    assert len(publisher.messages("test.events")) == 3  # each answer went out at once
    assert timed.cleared_at == []
    assert all([await outbox_of(timed.collection, note) for note in ("ann", "bob", "cat")])

    await asyncio.sleep(0.4)
    assert len(timed.cleared_at) == 3
    assert min(timed.cleared_at) >= first + 0.19
    assert max(timed.cleared_at) - min(timed.cleared_at) < 0.01  # one loop turn: one request
    outboxes = [await outbox_of(timed.collection, note) for note in ("ann", "bob", "cat")]
    assert outboxes == [[], [], []]


async def test_the_next_write_of_the_same_document_does_not_wait_out_the_window() -> None:
    timed, notes, publisher, outbox = setup(LONG)
    await asyncio.wait_for(commit(outbox, notes, "ann", "first", 1), timeout=5)
    await asyncio.wait_for(commit(outbox, notes, "ann", "second", 2), timeout=5)

    ids = [m["id"] for m in publisher.messages("test.events")]
    assert len(ids) == 2 and len(set(ids)) == 2  # the first event was not published again
    doc = await timed.collection.get("ann")
    assert doc is not None and doc["text"] == "second"
    assert [e["id"] for e in doc["outbox"]] == ids[1:]  # the first clear landed before it
    await asyncio.wait_for(outbox.drain(patience=5), timeout=5)
    assert await outbox_of(timed.collection, "ann") == []


async def test_a_reader_of_the_local_entries_does_not_wait_out_the_window() -> None:
    sink = Sink()
    sink.release.set()
    notes, _, outbox = setup_with_records(sink, batch_window=LONG)
    await asyncio.wait_for(commit_with_record(outbox, notes, "ann"), timeout=5)
    assert sink.written == []

    await asyncio.wait_for(outbox.local_written(), timeout=5)
    assert len(sink.written) == 1


async def test_a_stop_does_not_wait_out_the_window() -> None:
    timed, notes, _, outbox = setup(LONG)
    await asyncio.wait_for(commit(outbox, notes, "ann", "x", 1), timeout=5)
    assert await outbox_of(timed.collection, "ann") != []
    await asyncio.wait_for(outbox.drain(patience=5), timeout=5)
    assert await outbox_of(timed.collection, "ann") == []


async def test_without_a_window_a_clear_starts_right_after_its_answer() -> None:
    timed, notes, _, outbox = setup(0.0)
    await asyncio.wait_for(commit(outbox, notes, "ann", "x", 1), timeout=5)
    await asyncio.sleep(0.05)
    assert len(timed.cleared_at) == 1 and await outbox_of(timed.collection, "ann") == []
