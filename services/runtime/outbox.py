"""Transactional outbox inside the aggregate's document, and the relay that empties it.

A handler writes its state change and the events it causes in ONE document write
(`outbox: [entry, ...]`), then publishes them and clears the outbox. Whatever a crash leaves
unpublished is published by the periodic sweep with the same event ids.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo.asynchronous.collection import AsyncCollection

from contracts.envelope import CloudEvent
from services.runtime.documents import update_versioned
from services.runtime.kafka import publish_all
from services.runtime.mongo import Document

log = logging.getLogger(__name__)

# Turns a stored entry into the bytes to publish (e.g. to put back a secret kept only in memory).
Render = Callable[[AsyncCollection[Document], Document, Document], Awaitable[bytes]]


def outbox_entry(topic: str, event: CloudEvent[Any]) -> Document:
    return {
        "id": event.id,
        "topic": topic,
        "key": event.accountid,
        "value": event.to_json(),
        "correlationid": event.correlationid,
        "type": event.type,
    }


async def _stored_value(
    collection: AsyncCollection[Document], doc: Document, entry: Document
) -> bytes:
    value: str = entry["value"]
    return value.encode()


class Outbox:
    def __init__(self, broker: KafkaBroker, render: Render = _stored_value) -> None:
        self.broker = broker
        self.render = render
        # Test hook: die between the document write and the publish (crash-safety tests).
        self.before_publish: Callable[[Document], Awaitable[None]] | None = None
        self._locks: dict[tuple[str, object], asyncio.Lock] = {}
        # (collection, _id) -> the newest version this process published or cleared
        self._flushed: OrderedDict[tuple[str, object], int] = OrderedDict()

    async def flush(self, collection: AsyncCollection[Document], doc: Document) -> None:
        """Publish the document's outbox, then clear it if nobody wrote in between.

        Flushes of one document are serialised in this process, and a version this process
        already flushed is not published again, so the relay and a redelivered command don't
        publish the same entries twice (and the common path needs no extra read).
        """
        if not doc.get("outbox"):
            return
        key = (collection.full_name, doc["_id"])
        lock = self._locks.setdefault(key, asyncio.Lock())
        try:
            async with lock:
                await self._flush_locked(collection, key, doc)
        finally:
            if not lock.locked() and self._locks.get(key) is lock:
                del self._locks[key]

    async def _flush_locked(
        self, collection: AsyncCollection[Document], key: tuple[str, object], doc: Document
    ) -> None:
        for _ in range(5):
            entries = doc.get("outbox") or []
            if not entries or doc["version"] <= self._flushed.get(key, 0):
                return  # this process published that version (or a later one) already
            if self.before_publish is not None:
                await self.before_publish(doc)
            records = [
                (
                    entry["topic"],
                    entry["key"],
                    await self.render(collection, doc, entry),
                    entry.get("correlationid"),
                )
                for entry in entries
            ]
            await publish_all(self.broker, records)
            for entry in entries:
                log.info(
                    "published %s",
                    entry["type"],
                    extra={
                        "event_type": entry["type"],
                        "event_id": entry["id"],
                        "topic": entry["topic"],
                    },
                )
            self._remember_flushed(key, doc["version"])
            cleared = await update_versioned(
                collection,
                doc["_id"],
                doc["version"],
                {"$set": {"outbox": []}, "$inc": {"version": 1}},
            )
            if cleared:
                self._remember_flushed(key, doc["version"] + 1)
                return
            # Someone wrote in between: their write kept our entries; go again (same ids).
            fresh = await collection.find_one({"_id": doc["_id"]})
            if fresh is None:
                return
            doc = fresh

    def _remember_flushed(self, key: tuple[str, object], version: int) -> None:
        self._flushed[key] = version
        self._flushed.move_to_end(key)
        while len(self._flushed) > 10_000:
            self._flushed.popitem(last=False)

    async def sweep(self, collections: Iterable[AsyncCollection[Document]]) -> int:
        """Publish every outbox a crash left behind; returns how many documents it flushed."""
        flushed = 0
        for collection in collections:
            async for doc in collection.find({"outbox.0": {"$exists": True}}):
                await self.flush(collection, doc)
                flushed += 1
        return flushed

    async def run_sweeper(
        self, collections: list[AsyncCollection[Document]], interval: float
    ) -> None:
        while True:
            try:
                if await self.sweep(collections):
                    log.info("outbox relay published what a crash left behind")
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox sweep failed; will retry")
            await asyncio.sleep(interval)
