"""Transactional outbox inside the aggregate's document, and the relay that empties it.

A handler writes its state change and the events it causes in ONE document write
(`outbox: [entry, ...]`), then publishes them and clears the outbox. The clear runs after the
handler has returned: the change and its events are durable and published by then, so it is
bookkeeping. A later write of the document read before that clear landed expects the version
the clear left (`version_after_own_clear`). Local entries (`Outbox.local`: a record the service
keeps of its decisions in its own database) are written once the publish has begun; a
handler's flush returns without waiting for them, and the clear waits for them
(`local_written` lets their readers wait for them too). Both wait up to `OUTBOX_BATCH_MS` to
start with those of the other handlers answered meanwhile (`batch_gate`); whoever needs them
done sooner opens the gate.

The relay publishes, with the same event ids, what is left:

- what this process wrote and could not publish (a broker outage): it keeps those documents'
  ids (`owed`) and tries them again every `OUTBOX_SWEEP_SECONDS`, reading only them;
- what a stopped process left (kill -9 between the write and the publish): a full sweep looks
  through every document when the service starts, when its partitions change hands (an
  instance that stopped had the accounts it gains), and every `OUTBOX_FULL_SWEEP_SECONDS`.

A full sweep reads the whole collection (the server has no partial indexes), so it is not the
periodic step: its cost grows with every invitation and email ever stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from contracts.common import utc_now
from contracts.envelope import CloudEvent
from services.runtime.batch_gate import BatchGate, passed
from services.runtime.cancellation import raise_if_cancelled
from services.runtime.collection import Collection, Document
from services.runtime.keyed_locks import KeyedLocks
from services.runtime.publisher import Publisher, Record

log = logging.getLogger(__name__)

# Turns a stored entry into the bytes to publish (e.g. to put back a secret kept only in memory).
Render = Callable[[Collection, Document, Document], Awaitable[bytes]]
# A document by collection name and `_id` (every `_id` here is a string).
Key = tuple[str, str]
# Writes local entries; must be idempotent on each entry's id (a flush may repeat).
LocalSink = Callable[[list[Document]], Awaitable[None]]
# Clears left running after their flush returned, at most; past it a flush clears before it
# returns (a database slower than the handlers makes them wait instead of piling up tasks).
MAX_CLEARS_UNDER_WAY = 1_000


def outbox_entry(topic: str, event: CloudEvent[Any]) -> Document:
    return {
        "at": utc_now(),  # for the backlog's age in /metrics
        "id": event.id,
        "topic": topic,
        "key": event.accountid,
        "value": event.to_json(),
        "correlationid": event.correlationid,
        "type": event.type,
    }


async def _stored_value(collection: Collection, doc: Document, entry: Document) -> bytes:
    value: str = entry["value"]
    return value.encode()


class Outbox:
    def __init__(
        self, publisher: Publisher, render: Render = _stored_value, batch_window: float = 0.0
    ) -> None:
        self.publisher = publisher
        self.render = render
        # a handler's clear and local entries start together with the others' (module docstring)
        self.batch = BatchGate(batch_window)
        # Test hook: die between the document write and the publish (crash-safety tests).
        self.before_publish: Callable[[Document], Awaitable[None]] | None = None
        self.on_published: Callable[[Document], None] = lambda entry: None  # metrics
        # Entries for a topic named here are written to this process's own database instead of
        # Kafka (a record the service keeps of its decisions, exactly once, with the decision).
        self.local: dict[str, LocalSink] = {}
        self._locks = KeyedLocks()
        # (collection, _id) -> the newest version this process published or cleared
        self._flushed: OrderedDict[Key, int] = OrderedDict()
        # (collection, _id) -> the collection and when its oldest unpublished event was
        # written: documents whose flush in this process failed (or a full sweep's failed)
        self._owed: dict[Key, tuple[Collection, datetime]] = {}
        self._full_sweep_wanted = False
        # (collection, _id) -> a clear of its outbox under way, and the version this process
        # last cleared (the clear wrote version + 1)
        self._clearing: dict[Key, asyncio.Task[None]] = {}
        self._cleared: OrderedDict[Key, int] = OrderedDict()
        # local entries being written (a handler's flush returns without waiting for them)
        self._local_under_way: set[asyncio.Task[None]] = set()

    async def version_after_own_clear(self, collection: Collection, _id: str, version: int) -> int:
        """The version a write of the document read at `version` must expect: `version`, or
        the one after it when this process cleared that version's outbox (waiting for a clear
        under way to end first)."""
        key = (collection.name, _id)
        await self._clear_ended(key)
        if self._cleared.get(key) != version:
            return version
        del self._cleared[key]  # once: the write that uses it makes a newer version
        return version + 1

    async def drain(self, patience: float) -> None:
        """Wait up to `patience` seconds for the clears and local writes under way (a stop;
        what is left uncleared is published again, with the same ids, by whoever sweeps it
        next)."""
        under_way = [*self._clearing.values(), *self._local_under_way]
        self.batch.open_now()
        if under_way:
            await asyncio.wait(under_way, timeout=patience)

    async def local_written(self) -> None:
        """Wait for the local entries this process is still writing, so that a reader of them
        sees every decision this process has published (their failures are the relay's)."""
        if self._local_under_way:
            self.batch.open_now()
            await asyncio.wait(list(self._local_under_way))

    async def flush(
        self, collection: Collection, doc: Document, *, clear_later: bool = False
    ) -> Document | None:
        """Publish the document's outbox, then clear it if nobody wrote in between; returns the
        document as this process last saw it (None: deleted meanwhile). `clear_later`: a
        handler's flush returns once published, its clear left under way (see the module's
        docstring).

        Flushes of one document are serialised in this process, and a version this process
        already flushed is not published again, so the relay and a redelivered command don't
        publish the same entries twice (and the common path needs no extra read).
        """
        if not doc.get("outbox"):
            return doc
        key = (collection.name, str(doc["_id"]))
        async with self._locks.hold(key):
            try:
                flushed = await self._flush_locked(collection, key, doc, clear_later)
            except BaseException:  # a failed publish or a cancellation: the relay tries again
                self._owe(key, collection, doc)
                raise
            self._settle(key, flushed)  # owed before, published now
            return flushed

    def _owe(self, key: Key, collection: Collection, doc: Document) -> None:
        times: list[datetime] = [e["at"] for e in doc.get("outbox", []) if e.get("at")]
        since = min(times, default=utc_now())
        if key in self._owed:
            since = min(since, self._owed[key][1])
        self._owed[key] = (collection, since)

    def _settle(self, key: Key, doc: Document | None) -> None:
        """Forget `key` unless `doc` still holds events this process has not published."""
        if doc is None or not doc.get("outbox") or self._published(key, doc):
            self._owed.pop(key, None)

    def backlog(self) -> tuple[int, datetime | None]:
        """How many documents this process knows hold unpublished events, and when the oldest
        of those events was written."""
        oldest = min((since for _, since in self._owed.values()), default=None)
        return len(self._owed), oldest

    async def _flush_locked(
        self, collection: Collection, key: Key, doc: Document, clear_later: bool = False
    ) -> Document | None:
        await self._clear_ended(key)
        for _ in range(5):
            entries = doc.get("outbox") or []
            if not entries or self._published(key, doc):
                return doc  # this process published that version (or a later one) already
            self._cleared.pop(key, None)  # a newer version is being flushed
            if self.before_publish is not None:
                await self.before_publish(doc)
            records = [
                Record(
                    entry["topic"],
                    entry["key"].encode(),
                    await self.render(collection, doc, entry),
                    entry.get("correlationid"),
                )
                for entry in entries
                if entry["topic"] not in self.local
            ]
            later = clear_later and len(self._clearing) < MAX_CLEARS_UNDER_WAY
            # the local entries don't depend on the Kafka publish: neither waits for the other
            opening = self.batch.next_opening() if later else None
            records_written = self._write_local(entries, opening)
            if later:
                await self.publisher.publish(records)
            else:
                await asyncio.gather(records_written, self.publisher.publish(records))
            for entry in entries:
                if entry["topic"] in self.local:
                    continue
                self.on_published(entry)
                log.info(
                    "published %s",
                    entry["type"],
                    extra={
                        "event_type": entry["type"],
                        "event_id": entry["id"],
                        "topic": entry["topic"],
                    },
                )
            _remember(self._flushed, key, doc["version"])
            if later:
                self._clear_later(collection, key, doc, records_written, opening)
                return {**doc, "outbox": [], "version": doc["version"] + 1}
            if await self._clear(collection, key, doc):
                return {**doc, "outbox": [], "version": doc["version"] + 1}
            # Someone wrote in between: their write kept our entries; go again (same ids).
            fresh = await collection.get(doc["_id"])
            if fresh is None:
                return None
            doc = fresh
        return doc

    async def _clear(self, collection: Collection, key: Key, doc: Document) -> bool:
        cleared = await collection.set_fields(doc["_id"], doc["version"], {"outbox": []})
        if cleared:
            _remember(self._flushed, key, doc["version"] + 1)
            _remember(self._cleared, key, doc["version"])
        return cleared

    async def _clear_ended(self, key: Key) -> None:
        """Wait for the document's clear under way, if any (it goes on if this waiter is
        cancelled)."""
        clearing = self._clearing.get(key)
        if clearing is not None:
            self.batch.open_now()
            await asyncio.shield(clearing)

    def _published(self, key: Key, doc: Document) -> bool:
        """This process published (or cleared) the document's version or a later one."""
        return bool(doc["version"] <= self._flushed.get(key, 0))

    def published_here(self, collection: Collection, doc: Document) -> bool:
        """Whether this process published the outbox of the document at its version (its
        clear may not have landed yet)."""
        if not doc or not doc.get("outbox"):
            return False
        return self._published((collection.name, str(doc["_id"])), doc)

    def _write_local(
        self, entries: list[Document], opening: asyncio.Future[None] | None
    ) -> asyncio.Future[None]:
        """Start writing the entries for `Outbox.local`'s topics (at `opening`, if any). The
        write goes on whatever happens to the publish beside it: the decision it records is
        durable already."""
        writes = [
            (sink, local)
            for topic, sink in self.local.items()
            if (local := [entry for entry in entries if entry["topic"] == topic])
        ]
        loop = asyncio.get_running_loop()
        if not writes:
            nothing: asyncio.Future[None] = loop.create_future()
            nothing.set_result(None)
            return nothing

        async def write() -> None:
            await passed(opening)
            await asyncio.gather(*(sink(local) for sink, local in writes))

        task = loop.create_task(write())
        self._local_under_way.add(task)
        task.add_done_callback(self._local_ended)
        return task

    def _local_ended(self, task: asyncio.Task[None]) -> None:
        self._local_under_way.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved; a failure leaves the outbox uncleared for the relay

    def _clear_later(
        self,
        collection: Collection,
        key: Key,
        doc: Document,
        records_written: Awaitable[None],
        opening: asyncio.Future[None] | None,
    ) -> None:
        """Clear the published outbox once this flush has returned, the batch gate has opened
        and its local entries are written. If someone wrote in between, their write kept the
        entries and their flush publishes them again (same ids); if the local write or the
        clear fails, the relay publishes and writes them again (same ids) and clears them."""

        async def clear() -> None:
            try:
                await passed(opening)
                await records_written
                await self._clear(collection, key, doc)
            except Exception:
                log.warning(
                    "outbox: local entries' write or clear failed; the relay will finish it",
                    exc_info=True,
                )
                self._flushed.pop(key, None)
                self._owe(key, collection, doc)
            finally:
                if self._clearing.get(key) is task:
                    del self._clearing[key]

        task = asyncio.get_running_loop().create_task(clear())
        self._clearing[key] = task

    async def republish(self, entry: Document) -> None:
        """Publish a remembered outcome again, with its id (a redelivered command's answer)."""
        key = entry["key"].encode()
        await self.publisher.publish(
            [Record(entry["topic"], key, entry["value"].encode(), entry.get("correlationid"))]
        )

    async def sweep(self, collections: Iterable[Collection]) -> int:
        """Publish every outbox in `collections`, whoever left it (a full sweep: reads every
        document); returns how many documents it flushed."""
        flushed = 0
        for collection in collections:
            for doc in await collection.find({"outbox.0": {"$exists": True}}):
                raise_if_cancelled()
                await self.flush(collection, doc)
                flushed += 1
        return flushed

    async def sweep_owed(self) -> int:
        """Publish what this process wrote and has not published yet, reading only those
        documents; returns how many still held events."""
        flushed = 0
        for key, (collection, _) in list(self._owed.items()):
            raise_if_cancelled()
            async with self._locks.hold(key):
                doc = await collection.get(key[1])
                if doc is not None and doc.get("outbox"):
                    flushed += 1
                    doc = await self._flush_locked(collection, key, doc)
                self._settle(key, doc)
        return flushed

    def want_full_sweep(self) -> None:
        """Partitions changed hands: an instance that stopped may have left events behind."""
        self._full_sweep_wanted = True

    async def run_sweeper(
        self, collections: list[Collection], interval: float, full_interval: float
    ) -> None:
        """Every `interval`: what this process owes; at the start, when asked and every
        `full_interval`: a full sweep."""
        next_full = time.monotonic()
        while True:
            try:
                if self._full_sweep_wanted or time.monotonic() >= next_full:
                    self._full_sweep_wanted = False
                    next_full = time.monotonic() + full_interval
                    if await self.sweep(collections):
                        log.info("outbox relay published what was left unpublished")
                elif await self.sweep_owed():
                    log.info("outbox relay published events whose first publish failed")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox sweep failed; will retry")
            await asyncio.sleep(interval)


def _remember(versions: OrderedDict[Key, int], key: Key, version: int) -> None:
    """Note a document's version, keeping the 10,000 most recently noted documents."""
    versions[key] = version
    versions.move_to_end(key)
    while len(versions) > 10_000:
        versions.popitem(last=False)
