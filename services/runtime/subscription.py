"""A Kafka subscription whose records run in key-ordered lanes and whose offsets we commit.

FastStream fetches (batch subscriber, `AckPolicy.MANUAL`: it never commits); each fetched
record becomes a `Job` in `KeyOrderedLanes` and the fetch loop goes on while the lanes work,
waiting only when `max_in_flight` records are held. A committer commits, per partition, the
offset below which every record is finished (`OffsetBook`), at most every `commit_every_ms`
(`CONSUMER_COMMIT_EVERY_MS`); a rebalance commits what its revoked partitions finished before
they change hands, and a stop commits what finished before the consumer closes. A kill -9
commits nothing more: the records after the last commit are read again (the handlers are
idempotent).

Topics read by one subscription are co-partitioned: its consumer uses Kafka's range
assignment, which gives partition p of every topic the group reads to the same member when the
topics have as many partitions each (checked before the service starts), and a rebalance moves
them together. So one instance at a time owns an account's records on all of those topics; a
service whose decisions read facts that arrive on two topics (access_control) needs that to
make them one after the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from itertools import chain
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.coordinator.assignors.roundrobin import RoundRobinPartitionAssignor
from aiokafka.errors import ConsumerStoppedError, IllegalStateError, KafkaError
from aiokafka.structs import OffsetAndMetadata, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.subscriber.usecase import BatchSubscriber
from faststream.message import StreamMessage

from services.runtime.concurrency import Concurrency
from services.runtime.dlq import Origin
from services.runtime.lanes import Job, KeyOrderedLanes
from services.runtime.offsets import Partition

log = logging.getLogger(__name__)

# aiokafka retries a commit while the broker is unreachable; a stop must not wait for that.
COMMIT_TIMEOUT = 10.0
# How long a rebalance or a stop waits for running records before cancelling them. A rebalance
# holds up the whole group meanwhile; a cancelled record is read again by the next owner.
FINISH_PATIENCE = 10.0
EARLY_EMPTY_PAUSE = 0.02  # seconds before fetching again after an empty answer given early

Work = Callable[[bytes | None, Origin], Awaitable[None]]


class KeyOrderedSubscription:
    def __init__(
        self,
        work: Work,
        concurrency: Concurrency,
        on_reassignment: Sequence[Callable[[], None]] = (),
        patience: float = FINISH_PATIENCE,
        topics: Sequence[str] = (),
    ) -> None:
        self.work = work
        self.topics = list(topics)
        self.lanes = KeyOrderedLanes(concurrency.max_in_flight, concurrency.max_accounts)
        self.patience = patience
        self.fetch_hold = concurrency.fetch_hold_ms / 1000
        self.fetch_wait_ms = concurrency.fetch_wait_ms
        self.commit_every = concurrency.commit_every_ms / 1000
        self.subscriber: BatchSubscriber | None = None
        self.on_reassignment = on_reassignment
        self._fetched_at = 0  # the lanes' generation when the batch being handled was fetched
        self._committer: asyncio.Task[None] | None = None
        self._commit_lock = asyncio.Lock()

    def attach(self, subscriber: BatchSubscriber) -> None:
        """Fetch for FastStream's consume loop in place of its own, which slept as long again
        after each empty wait: an idle subscriber woke about 25 times a second, and a record
        arriving during the sleep waited it out. This one waits until records arrive, in
        rounds of `fetch_wait_ms`, and notes each fetch's generation the moment it returns,
        before anything can await: a batch fetched before partitions changed hands must not
        be taken after."""
        self.subscriber = subscriber
        max_records = subscriber.max_records
        wait_ms = self.fetch_wait_ms

        async def fetch_noting_generation(consumer: AIOKafkaConsumer) -> tuple[Any, ...]:
            while True:
                began = time.monotonic()
                batches = await consumer.getmany(timeout_ms=wait_ms, max_records=max_records)
                if batches:
                    break
                if time.monotonic() - began < wait_ms / 2000:
                    # Empty before its time (the fetcher closing, a rebalance): FastStream's
                    # loop decides what comes next, after a pause that keeps this from spinning.
                    await asyncio.sleep(EARLY_EMPTY_PAUSE)
                    return ()
            self._fetched_at = self.lanes.generation
            return tuple(chain.from_iterable(batches.values()))

        subscriber.get_msg = fetch_noting_generation  # type: ignore[method-assign]

    async def on_batch(self, records: Sequence[Any]) -> None:
        generation = self._fetched_at
        jobs = [self._job(r.value, Origin(r.topic, r.partition, r.offset, r.key)) for r in records]
        await self.lanes.submit(jobs, generation)
        await self.lanes.settle(self.fetch_hold)
        if not self.lanes.closed and (self._committer is None or self._committer.done()):
            self._committer = asyncio.create_task(self._commit_as_records_finish())

    def _job(self, value: bytes | None, origin: Origin) -> Job:
        return Job(origin, lambda: self.work(value, origin))

    async def stop(self) -> None:
        """Finish (or cancel) what runs, commit what finished; before the consumer closes."""
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
        await self.commit(await self.lanes.close(self.patience))

    async def _commit_as_records_finish(self) -> None:
        while True:
            await self.lanes.progress.wait()
            self.lanes.progress.clear()
            await self.commit(None)
            await asyncio.sleep(self.commit_every)

    async def commit(self, offsets: dict[Partition, int] | None) -> None:
        """Commit `offsets` (None: whatever moved since the last commit)."""
        async with self._commit_lock:
            wanted = self.lanes.book.to_commit() if offsets is None else offsets
            consumer = self.subscriber.consumer if self.subscriber else None
            if not wanted or consumer is None:
                return
            try:
                async with asyncio.timeout(COMMIT_TIMEOUT):
                    await consumer.commit(
                        {
                            TopicPartition(t, p): OffsetAndMetadata(o, "")
                            for (t, p), o in wanted.items()
                        }
                    )
            except (KafkaError, IllegalStateError, ConsumerStoppedError, TimeoutError) as exc:
                # Partitions changing hands, a broker outage, a consumer being restarted: what
                # is not committed is read again by its next owner; the next commit retries.
                log.warning("offset commit of %s failed: %r", wanted, exc)
                self.lanes.progress.set()
                return
            self.lanes.book.committed(wanted)

    def listener(self) -> ConsumerRebalanceListener:
        return _Rebalances(self)


class _Rebalances(ConsumerRebalanceListener):  # type: ignore[misc]
    """aiokafka awaits these before the group moves on, so the revoked partitions' finished
    records are committed while this consumer still owns them."""

    def __init__(self, subscription: KeyOrderedSubscription) -> None:
        self.subscription = subscription

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        subscription = self.subscription
        partitions = [(tp.topic, tp.partition) for tp in revoked]
        offsets = await subscription.lanes.revoke(partitions, subscription.patience)
        await subscription.commit(offsets)
        self._tell()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self.subscription.lanes.assigned([(tp.topic, tp.partition) for tp in assigned])
        self._tell()

    def _tell(self) -> None:
        """What the process keeps of the accounts it owns, it forgets."""
        for hook in self.subscription.on_reassignment:
            hook()


async def _fetched_records(message: StreamMessage[Any]) -> tuple[Any, ...]:
    """The handler's argument is the fetched aiokafka records as they are: nothing decodes the
    values (the pipeline parses each record itself), and the handler asks FastStream for no
    context, whose resolution ran in a worker thread for every fetch (fast_depends runs a
    synchronous resolver through anyio's thread pool)."""
    records = message.raw_message
    return records if isinstance(records, tuple) else (records,)


def subscribe(
    broker: KafkaBroker,
    topics: Sequence[str],
    work: Work,
    group_id: str,
    title: str,
    description: str,
    concurrency: Concurrency | None = None,
    on_reassignment: Sequence[Callable[[], None]] = (),
) -> KeyOrderedSubscription:
    """Consume `topics` into `work`: accounts concurrently, each account's records in order,
    offsets committed as records finish; several topics co-partitioned (see the module's text)."""
    assert not isinstance(topics, str), "a list of topics"
    limits = concurrency or Concurrency()
    # Round robin (aiokafka's default) where nothing needs co-partitioning. One strategy only:
    # with two offered (range, then round robin), aiokafka 0.14's members starting together
    # kept re-joining each other's rebalance (4 of 10 pairs never got an assignment in 40 s).
    assignor = RangePartitionAssignor if len(topics) > 1 else RoundRobinPartitionAssignor
    subscription = KeyOrderedSubscription(work, limits, on_reassignment, topics=topics)

    async def on_batch(records: Any) -> None:
        await subscription.on_batch(records)

    on_batch.__doc__ = description
    subscriber = broker.subscriber(
        *topics,
        group_id=group_id,
        partition_assignment_strategy=(assignor,),
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        batch=True,
        max_records=max(1, limits.max_in_flight // 2),
        title=title,
        max_poll_interval_ms=30 * 60 * 1000,  # a long SMTP/Mongo outage must not evict us
        # A service's subscribers share one group: each join is a rebalance the others learn of
        # at their next heartbeat, so a 3 s default made every start (and failover) 3 s slower.
        heartbeat_interval_ms=500,
        listener=subscription.listener(),
        decoder=_fetched_records,
    )
    subscriber(on_batch)
    subscription.attach(subscriber)
    return subscription
