"""When the relay looks through every document: at its start, when asked (partitions changed
hands) and every `full_interval`; in between it reads only what this process owes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import cast

import pytest

from contracts.messages import InvitationExpired
from services.runtime import outbox as outbox_module
from services.runtime.collection import Collection
from services.runtime.memory_collection import MemoryStorage
from services.runtime.outbox import Outbox
from services.runtime.publisher import MemoryPublisher
from services.runtime.service import memory_runtime
from services.runtime.settings import ServiceSettings
from services.runtime.unit_of_work import Cause, Repository, UnitOfWork
from tests.storage_contract import Note, NoteCodec

TICK = 0.01


async def left_behind(notes: Repository[Note], note: str) -> None:
    """What a process killed between its write and its publish leaves."""
    crashed = Outbox(MemoryPublisher())

    async def killed(doc: object) -> None:
        raise asyncio.CancelledError

    crashed.before_publish = killed
    uow = UnitOfWork(crashed, "/test", "test.events", Cause(note, "acct-1", note, note))
    expired = InvitationExpired(
        invitation_id="00000000-0000-4000-8000-000000000001", email=f"{note}@example.com"
    )
    with contextlib.suppress(asyncio.CancelledError):
        await uow.commit(await uow.load(notes, note), Note(note, "acct-1", "x"), [expired])


@contextlib.asynccontextmanager
async def sweeping(outbox: Outbox, collection: Collection) -> AsyncIterator[None]:
    task = asyncio.create_task(outbox.run_sweeper([collection], TICK, full_interval=3600))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def published(publisher: MemoryPublisher) -> list[str]:
    await asyncio.sleep(20 * TICK)  # twenty rounds of the relay
    return [m["data"]["email"] for m in publisher.messages("test.events")]


async def test_a_full_sweep_at_the_start_and_when_partitions_change_hands() -> None:
    notes = Repository(MemoryStorage().collection("notes"), NoteCodec())
    publisher = MemoryPublisher()
    outbox = Outbox(publisher)
    await left_behind(notes, "before")
    async with sweeping(outbox, notes.collection):
        assert await published(publisher) == ["before@example.com"]

        await left_behind(notes, "meanwhile")  # another instance, while this one runs
        assert await published(publisher) == ["before@example.com"]

        outbox.want_full_sweep()  # a rebalance: this instance may have gained its accounts
        assert await published(publisher) == ["before@example.com", "meanwhile@example.com"]


async def test_a_service_asks_its_relay_for_a_full_sweep_when_partitions_change_hands() -> None:
    runtime = memory_runtime("membership", ServiceSettings())
    notes = Repository(runtime.collection("notes"), NoteCodec())
    assert isinstance(runtime.publisher, MemoryPublisher)
    async with sweeping(runtime.outbox, notes.collection):
        assert await published(runtime.publisher) == []  # the start's full sweep is done
        await left_behind(notes, "meanwhile")
        assert await published(runtime.publisher) == []
        for hook in runtime.on_reassignment:  # what the consumers call on a rebalance
            hook()
        assert await published(runtime.publisher) == ["meanwhile@example.com"]


class ClearRefusedOnce:
    """A collection whose first outbox clear fails (the database went away for a moment)."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection
        self.refused = False

    def __getattr__(self, name: str) -> object:
        return getattr(self.collection, name)

    async def set_fields(self, key: str, expected_version: int, fields: dict[str, object]) -> bool:
        if not self.refused:
            self.refused = True
            raise ConnectionError("database unreachable")
        return await self.collection.set_fields(key, expected_version, fields)


async def commit_note(outbox: Outbox, notes: Repository[Note], note: str) -> None:
    uow = UnitOfWork(outbox, "/test", "test.events", Cause(note, "acct-1", note, note))
    expired = InvitationExpired(
        invitation_id="00000000-0000-4000-8000-000000000001", email=f"{note}@example.com"
    )
    await uow.commit(await uow.load(notes, note), Note(note, "acct-1", "x"), [expired])


async def test_a_clear_that_fails_after_the_commit_returned_is_the_relays_to_finish() -> None:
    """The handler's commit has returned, published; its clear fails later. The document is
    owed: the relay publishes its events again (same ids, which consumers drop) and clears it."""
    storage = MemoryStorage()
    flaky = ClearRefusedOnce(storage.collection("notes"))
    notes = Repository(cast(Collection, flaky), NoteCodec())
    publisher = MemoryPublisher()
    outbox = Outbox(publisher)
    await commit_note(outbox, notes, "ann")
    await outbox.drain(patience=5)
    assert flaky.refused and outbox.backlog()[0] == 1
    assert (await storage.collection("notes").get("ann") or {})["outbox"] != []

    assert await outbox.sweep_owed() == 1
    ids = [m["id"] for m in publisher.messages("test.events")]
    assert len(ids) == 2 and ids[0] == ids[1]
    assert (await storage.collection("notes").get("ann") or {})["outbox"] == []
    assert outbox.backlog() == (0, None)


async def test_past_the_bound_of_clears_under_way_a_commit_clears_before_it_returns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A database slower than the handlers makes them wait instead of piling up clears."""
    storage = MemoryStorage()
    slow = ClearHeld(storage.collection("notes"), "later")
    notes = Repository(cast(Collection, slow), NoteCodec())
    outbox = Outbox(MemoryPublisher())
    monkeypatch.setattr(outbox_module, "MAX_CLEARS_UNDER_WAY", 1)
    await commit_note(outbox, notes, "later")  # its clear waits
    await commit_note(outbox, notes, "now")  # one clear is under way already
    assert (await storage.collection("notes").get("now") or {})["outbox"] == []
    assert (await storage.collection("notes").get("later") or {})["outbox"] != []
    slow.release.set()
    await outbox.drain(patience=5)
    assert (await storage.collection("notes").get("later") or {})["outbox"] == []


class ClearHeld:
    """A collection whose outbox clear of one document waits until released."""

    def __init__(self, collection: Collection, held: str) -> None:
        self.collection, self.held = collection, held
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> object:
        return getattr(self.collection, name)

    async def set_fields(self, key: str, expected_version: int, fields: dict[str, object]) -> bool:
        if key == self.held:
            await self.release.wait()
        return await self.collection.set_fields(key, expected_version, fields)
