"""Local entries (`Outbox.local`: a record a service keeps of its decisions in its own
database) are written alongside the publish. A handler's commit returns once the events are
published, without waiting for them; the outbox is cleared only after they are written, so a
record that fails to be written is the relay's to write, and a reader can wait for the records
under way (`Outbox.local_written`)."""

from __future__ import annotations

import asyncio
import contextlib

from contracts.messages import InvitationExpired
from services.runtime.collection import Collection, Document
from services.runtime.memory_collection import MemoryStorage
from services.runtime.outbox import Outbox
from services.runtime.publisher import MemoryPublisher
from services.runtime.rules import Emit
from services.runtime.unit_of_work import Cause, Repository, UnitOfWork
from tests.storage_contract import Note, NoteCodec

LOCAL_TOPIC = "local.records"


class Sink:
    """A local sink that holds its writes until released, and can fail its first one."""

    def __init__(self, *, fail_first: bool = False) -> None:
        self.release = asyncio.Event()
        self.fail_first = fail_first
        self.written: list[str] = []

    async def __call__(self, entries: list[Document]) -> None:
        await self.release.wait()
        if self.fail_first:
            self.fail_first = False
            raise ConnectionError("database unreachable")
        self.written.extend(entry["id"] for entry in entries if entry["id"] not in self.written)


def expired(note: str) -> InvitationExpired:
    return InvitationExpired(
        invitation_id="00000000-0000-4000-8000-000000000001", email=f"{note}@example.com"
    )


async def commit_with_record(outbox: Outbox, notes: Repository[Note], note: str) -> None:
    uow = UnitOfWork(outbox, "/test", "test.events", Cause(note, "acct-1", note, note))
    events = [expired(note), Emit(expired(note), topic=LOCAL_TOPIC, id_parts=("record",))]
    await uow.commit(await uow.load(notes, note), Note(note, "acct-1", "x"), events)


def setup(
    sink: Sink, batch_window: float = 0.0
) -> tuple[Repository[Note], MemoryPublisher, Outbox]:
    storage = MemoryStorage()
    publisher = MemoryPublisher()
    outbox = Outbox(publisher, batch_window=batch_window)
    outbox.local[LOCAL_TOPIC] = sink
    return Repository(storage.collection("notes"), NoteCodec()), publisher, outbox


async def outbox_of(notes: Collection, note: str) -> list[Document]:
    doc = await notes.get(note)
    assert doc is not None
    return list(doc["outbox"])


async def test_a_commit_returns_once_published_and_the_clear_waits_for_the_record() -> None:
    sink = Sink()
    notes, publisher, outbox = setup(sink)
    await asyncio.wait_for(commit_with_record(outbox, notes, "ann"), timeout=5)

    assert [m["data"]["email"] for m in publisher.messages("test.events")] == ["ann@example.com"]
    assert publisher.messages(LOCAL_TOPIC) == []  # a local entry never goes to the broker
    assert sink.written == []
    await asyncio.sleep(0.05)
    # not cleared before the record is written
    assert len(await outbox_of(notes.collection, "ann")) == 2

    reader = asyncio.create_task(outbox.local_written())
    await asyncio.sleep(0.05)
    assert not reader.done()  # a reader waits for the record under way
    sink.release.set()
    await asyncio.wait_for(reader, timeout=5)
    assert len(sink.written) == 1
    await outbox.drain(patience=5)
    assert await outbox_of(notes.collection, "ann") == []


async def test_a_record_that_fails_after_the_commit_returned_is_the_relays_to_write() -> None:
    sink = Sink(fail_first=True)
    notes, publisher, outbox = setup(sink)
    sink.release.set()
    await commit_with_record(outbox, notes, "ann")
    await outbox.drain(patience=5)
    assert sink.written == [] and len(await outbox_of(notes.collection, "ann")) == 2
    assert outbox.backlog()[0] == 1

    assert await outbox.sweep_owed() == 1
    assert len(sink.written) == 1
    assert await outbox_of(notes.collection, "ann") == []
    assert outbox.backlog() == (0, None)
    ids = [m["id"] for m in publisher.messages("test.events")]
    assert len(ids) == 2 and ids[0] == ids[1]  # published again with its id


async def test_the_relay_writes_the_record_before_it_clears() -> None:
    """Outside a handler (the relay, a rejection) the flush waits for the record as before."""
    sink = Sink()
    notes, _, outbox = setup(sink)
    crashed = Outbox(MemoryPublisher())

    async def killed(doc: object) -> None:
        raise asyncio.CancelledError

    crashed.before_publish = killed
    with contextlib.suppress(asyncio.CancelledError):
        await commit_with_record(crashed, notes, "ann")
    doc = await notes.collection.get("ann")
    assert doc is not None
    flushing = asyncio.create_task(outbox.flush(notes.collection, doc))
    await asyncio.sleep(0.05)
    assert not flushing.done()
    sink.release.set()
    await asyncio.wait_for(flushing, timeout=5)
    assert len(sink.written) == 1 and await outbox_of(notes.collection, "ann") == []
