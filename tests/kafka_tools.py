"""Test-side Kafka helpers: a gateway that publishes commands, a tap that reads topics,
and positioning a consumer group at the end so a test sees only its own traffic."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.common import format_time, utc_now
from contracts.envelope import CONTENT_TYPE, new_id
from contracts.topics import PARTITIONS
from services.runtime.kafka_access import KafkaAccess


@contextlib.asynccontextmanager
async def admin_client(access: KafkaAccess) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(**access.aiokafka())
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def create_topic(access: KafkaAccess, topic: str, partitions: int) -> None:
    async with admin_client(access) as admin:
        await admin.create_topics(
            [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
        )


async def delete_topic(access: KafkaAccess, topic: str) -> None:
    async with admin_client(access) as admin:
        await admin.delete_topics([topic])


async def committed_offsets(access: KafkaAccess, group_id: str, topic: str) -> dict[int, int]:
    """The group's committed offset of each partition of `topic` that has one."""
    async with admin_client(access) as admin:
        offsets = await admin.list_consumer_group_offsets(group_id)
    return {tp.partition: int(meta.offset) for tp, meta in offsets.items() if tp.topic == topic}


async def position_group_at_end(access: KafkaAccess, group_id: str, topics: list[str]) -> None:
    """Commit the group's offsets at the current end of each topic."""
    consumer = AIOKafkaConsumer(**access.aiokafka(), group_id=group_id, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await consumer.stop()


async def join_and_leave(
    access: KafkaAccess, group_id: str, topics: list[str], **options: Any
) -> None:
    """Another member joins the group on `topics` and leaves once it was given a partition: two
    real rebalances of the group (`options`: the consumer's, e.g. its assignment strategy)."""
    other = AIOKafkaConsumer(
        *topics, **access.aiokafka(), group_id=group_id, enable_auto_commit=False, **options
    )
    await other.start()
    try:
        for _ in range(300):
            if other.assignment():
                return
            await asyncio.sleep(0.1)
        raise AssertionError("the other member was never given a partition")
    finally:
        await other.stop()


@dataclass
class Gateway:
    """Publishes commands exactly as the contract says a gateway does."""

    producer: AIOKafkaProducer

    async def send(
        self,
        topic: str,
        type_: str,
        account: str,
        data: dict[str, Any],
        actor: str | None = None,
        command_id: str | None = None,
        extension: dict[str, str] | None = None,  # e.g. the tracing `traceparent`
    ) -> str:
        command_id = command_id or new_id()
        envelope: dict[str, Any] = {
            "specversion": "1.0",
            "id": command_id,
            "source": "/gateway",
            "type": type_,
            "time": format_time(utc_now()),
            "datacontenttype": "application/json",
            "accountid": account,
            "correlationid": new_id(),
            "data": data,
            **(extension or {}),
        }
        if actor is not None:
            envelope["actorid"] = actor
        await self.send_raw(topic, account, json.dumps(envelope).encode())
        return command_id

    async def send_raw(self, topic: str, key: str, value: bytes) -> None:
        await self.producer.send_and_wait(
            topic, value, key=key.encode(), headers=[("content-type", CONTENT_TYPE.encode())]
        )


@dataclass
class Tap:
    """Reads a topic from its current end and keeps every record it sees."""

    consumer: AIOKafkaConsumer
    records: list[Any] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None
    # each record parsed once, as it arrives (waiting re-reads them every 50 ms)
    _parsed: list[dict[str, Any]] = field(default_factory=list)

    async def _pump(self) -> None:
        async for record in self.consumer:
            self.records.append(record)
            try:
                envelope = json.loads(record.value)
            except (ValueError, TypeError):
                continue
            if isinstance(envelope, dict):
                self._parsed.append(envelope)

    def envelopes(self, account: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self._parsed if account is None or e.get("accountid") == account]

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 30, count: int = 1
    ) -> list[dict[str, Any]]:
        """The events matching `predicate`, once there are `count` or more (within `timeout`
        seconds). Each event is tested once, as it arrives: the predicate's answer for an event
        must not change during the wait."""
        deadline = time.monotonic() + timeout
        matches: list[dict[str, Any]] = []
        scanned = 0  # records only ever arrive: each is tested once, not at every 50 ms
        while True:
            arrived = self._parsed[scanned:]
            scanned += len(arrived)
            matches.extend(e for e in arrived if predicate(e))
            if len(matches) >= count:
                return matches
            if time.monotonic() > deadline:
                seen = [(e.get("type"), e.get("data", {}).get("reason")) for e in self.envelopes()]
                raise AssertionError(f"waited {timeout}s for {count} matching events; saw {seen}")
            await asyncio.sleep(0.05)

    async def wait_for_raw(self, predicate: Callable[[Any], bool], timeout: float = 30) -> Any:
        """The first record matching `predicate`, each record tested once, as `wait_for`."""
        deadline = time.monotonic() + timeout
        scanned = 0
        while time.monotonic() < deadline:
            arrived = self.records[scanned:]
            scanned += len(arrived)
            for record in arrived:
                if predicate(record):
                    return record
            await asyncio.sleep(0.05)
        raise AssertionError(f"no matching record in {timeout}s among {len(self.records)}")

    async def outcome_of(self, command_id: str, timeout: float = 30) -> dict[str, Any]:
        """The first event caused by the command (its event or its CommandRejected)."""
        found = await self.wait_for(lambda e: e.get("causationid") == command_id, timeout)
        return found[0]

    async def settle(self, seconds: float = 1.0) -> None:
        await asyncio.sleep(seconds)


# A tap's fetch answered once a megabyte is there or half a second has passed, not at each
# record: for a benchmark whose load generator shares the machine with what it measures (its
# latencies come from the records' timestamps, not from when the tap sees them).
BATCHED_FETCH: dict[str, int] = {"fetch_min_bytes": 1 << 20, "fetch_max_wait_ms": 500}


async def open_tap(access: KafkaAccess, topic: str, batched: bool = False) -> Tap:
    fetch = BATCHED_FETCH if batched else {}
    consumer = AIOKafkaConsumer(**access.aiokafka(), enable_auto_commit=False, **fetch)
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    await consumer.start()
    consumer.assign(partitions)
    ends = await consumer.end_offsets(partitions)
    for tp, offset in ends.items():
        consumer.seek(tp, offset)
    tap = Tap(consumer)
    tap._task = asyncio.create_task(tap._pump())
    return tap


async def close_tap(tap: Tap) -> None:
    if tap._task is not None:
        tap._task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await tap._task
    await tap.consumer.stop()
