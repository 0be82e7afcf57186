"""Consume a topic: parse, dispatch, retry what may pass, dead-letter what never will.

Offsets are committed by FastStream only after `Pipeline.handle` returned for every record of
the fetched batch (AckPolicy.NACK_ON_ERROR: an exception that escapes means the batch is read
again, never committed), so a crash mid-handler means redelivery. `handle` itself never raises
for a bad message: a message that can't succeed goes to the DLQ (or gets a CommandRejected) and
the partition moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.subscriber.usecase import BatchSubscriber as KafkaSubscriber
from pydantic import BaseModel

from contracts.common import RejectionReason
from contracts.envelope import RawEnvelope
from services.runtime import tracing
from services.runtime.cancellation import raise_if_cancelled
from services.runtime.collection import VersionConflict
from services.runtime.concurrency import Concurrency
from services.runtime.dlq import Origin, dead_letter
from services.runtime.inbound import InvalidData, Outcome, Parsed, Unparseable, parse
from services.runtime.kafka import COMMIT_AFTER_HANDLING
from services.runtime.lanes import run_in_key_order
from services.runtime.logs import correlation_id
from services.runtime.metrics import Metrics
from services.runtime.mongo import is_transient
from services.runtime.publisher import Publisher
from services.runtime.rejections import Rejections
from services.runtime.rules import Refusal

log = logging.getLogger(__name__)

Handler = Callable[[Parsed], Awaitable[None]]
T = TypeVar("T")
Inbound = tuple[bytes | None, Origin]  # a record's value and where it came from


@dataclass
class RetryPolicy:
    max_attempts: int = 5  # for errors that are not known to be transient
    max_backoff: float = 30.0
    base_backoff: float = 0.2

    def backoff(self, attempt: int) -> float:
        return min(self.max_backoff, self.base_backoff * 2.0 ** (attempt - 1))


def is_transient_failure(exc: BaseException) -> bool:
    return is_transient(exc) or isinstance(exc, KafkaError | ConnectionError | TimeoutError)


@dataclass
class Pipeline:
    """What happens to one record of one topic, with no Kafka in it (handler tests feed it)."""

    service: str
    topic: str
    models: dict[str, type[BaseModel]]
    handler: Handler
    publisher: Publisher  # for dead letters
    rejections: Rejections | None = None  # set on command topics
    metrics: Metrics = field(default_factory=lambda: Metrics("pipeline"))
    retry: RetryPolicy | None = None
    on_transient: Callable[[BaseException | None], None] = lambda exc: None

    async def handle(self, value: bytes | None, origin: Origin) -> None:
        await self._handle_outcome(parse(value, self.models), value, origin, frozenset())

    async def handle_batch(self, records: Sequence[Inbound], max_accounts: int) -> None:
        """Handle a fetched batch: accounts concurrently, each account's records in order
        (`lanes.py`). A command topic asks once for the whole batch which commands were
        rejected before, instead of once per command."""
        parsed = [(parse(value, self.models), value, origin) for value, origin in records]
        not_rejected = await self._not_rejected([outcome for outcome, _, _ in parsed])

        async def handle_one(item: tuple[Outcome, bytes | None, Origin]) -> None:
            await self._handle_outcome(*item, not_rejected)

        await run_in_key_order(parsed, _lane_of, handle_one, max_accounts)

    async def _not_rejected(self, outcomes: list[Outcome]) -> frozenset[str]:
        """Ids of this batch's commands that had no rejection when the batch began (a command
        id twice in one batch is left out: the second must see what the first decided)."""
        rejections = self.rejections
        if rejections is None:
            return frozenset()
        counts = Counter(o.envelope.id for o in outcomes if isinstance(o, Parsed))
        once = [command_id for command_id, count in counts.items() if count == 1]
        if not once:
            return frozenset()
        rejected = await self._retrying(lambda: rejections.rejected_among(once))
        return frozenset(once) - rejected

    async def _handle_outcome(
        self,
        outcome: Outcome,
        value: bytes | None,
        origin: Origin,
        not_rejected: frozenset[str],
    ) -> None:
        if isinstance(outcome, Unparseable):
            await self._dead_letter(origin, value, outcome.error)
            self.metrics.handled.labels(self.topic, "unknown", "dead_lettered").inc()
            return
        envelope = outcome.envelope
        message_type = envelope.type if envelope.type in self.models else "unknown"
        token = correlation_id.set(envelope.correlationid or envelope.id)
        started = time.perf_counter()
        try:
            with tracing.handling(self.service, self.topic, envelope):
                if isinstance(outcome, InvalidData):
                    result = await self._invalid(outcome, origin, value)
                else:
                    result = await self._handle(outcome, origin, value, not_rejected)
        finally:
            correlation_id.reset(token)
        self.metrics.handled.labels(self.topic, message_type, result).inc()
        self.metrics.duration.labels(self.topic, message_type).observe(
            time.perf_counter() - started
        )

    async def _invalid(self, outcome: InvalidData, origin: Origin, raw: bytes | None) -> str:
        if self.rejections is not None:
            await self._reject(outcome.envelope, RejectionReason.INVALID, outcome.error)
            return "rejected"
        if outcome.unknown_type:
            log.debug("ignoring %s on %s", outcome.envelope.type, self.topic)
            return "ignored"
        await self._dead_letter(origin, raw, outcome.error)
        return "dead_lettered"

    async def _handle(
        self, parsed: Parsed, origin: Origin, raw: bytes | None, not_rejected: frozenset[str]
    ) -> str:
        rejections = self.rejections
        command_id = parsed.envelope.id
        if (
            rejections is not None
            and command_id not in not_rejected
            and await self._retrying(lambda: rejections.was_rejected(command_id))
        ):
            return "duplicate"
        refused: list[Refusal] = []

        async def attempt() -> None:
            try:
                await self.handler(parsed)
            except Refusal as refusal:
                if rejections is None:
                    raise
                await rejections.reject(parsed.envelope, refusal.reason, refusal.detail)
                refused.append(refusal)

        try:
            await self._retrying(attempt)
        except _GaveUp as failure:
            await self._dead_letter(
                origin, raw, f"handler failed {failure.attempts} times: {failure.summary}"
            )
            return "dead_lettered"
        if refused:
            self.metrics.rejected.labels(parsed.envelope.type, refused[-1].reason.value).inc()
            return "rejected"
        return "handled"

    async def _reject(self, command: RawEnvelope, reason: RejectionReason, detail: str) -> None:
        rejections = self.rejections
        assert rejections is not None
        await self._retrying(lambda: rejections.reject(command, reason, detail))
        known = command.type if command.type in self.models else "unknown"
        self.metrics.rejected.labels(known, reason.value).inc()

    async def _dead_letter(self, origin: Origin, raw: bytes | None, error: str) -> None:
        await self._retrying(lambda: dead_letter(self.publisher, self.service, origin, raw, error))
        self.metrics.dead_letters.labels(self.topic).inc()

    async def _retrying(self, step: Callable[[], Awaitable[T]]) -> T:
        """Transient failures: retry forever with capped backoff. Others: a bounded number."""
        policy = self.retry or RetryPolicy()
        attempt = 0
        while True:
            attempt += 1
            if attempt > 1:
                raise_if_cancelled()  # a stop lost in a failed attempt ends the retries here
            try:
                result = await step()
                if attempt > 1:
                    self.on_transient(None)
                return result
            except (asyncio.CancelledError, Refusal, _GaveUp):
                raise
            except VersionConflict:
                continue  # someone wrote between our read and write: decide again, at once
            except Exception as exc:
                if is_transient_failure(exc):
                    self.on_transient(exc)
                    log.warning("transient failure (attempt %d), retrying: %r", attempt, exc)
                elif attempt >= policy.max_attempts:
                    raise _GaveUp(attempt, _summary(exc)) from exc
                else:
                    log.exception("handler failed (attempt %d of %d)", attempt, policy.max_attempts)
                await asyncio.sleep(policy.backoff(attempt))


class _GaveUp(Exception):
    def __init__(self, attempts: int, summary: str) -> None:
        super().__init__(summary)
        self.attempts = attempts
        self.summary = summary


def _summary(exc: BaseException) -> str:
    frames = traceback.format_exception_only(type(exc), exc)
    return "".join(frames).strip()[:1500]


class Reassignments(ConsumerRebalanceListener):  # type: ignore[misc]
    """Calls `hooks` whenever the consumer's partitions change hands (what this process keeps
    of the accounts it owns, it forgets)."""

    def __init__(self, hooks: Sequence[Callable[[], None]]) -> None:
        self.hooks = hooks

    def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._tell()

    def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._tell()

    def _tell(self) -> None:
        for hook in self.hooks:
            hook()


def subscribe(
    broker: KafkaBroker,
    pipeline: Pipeline,
    group_id: str,
    description: str,
    concurrency: Concurrency | None = None,
    on_reassignment: Sequence[Callable[[], None]] = (),
) -> KafkaSubscriber:
    """Consume `pipeline.topic` in bounded batches, accounts concurrently, each account's
    records in order (`services/runtime/lanes.py`); the batch is committed once all of it is
    handled."""

    limits = concurrency or Concurrency()

    async def on_batch(msg: KafkaMessage) -> None:
        records = msg.raw_message
        batch = records if isinstance(records, tuple) else (records,)
        inbound = [(r.value, Origin(pipeline.topic, r.partition, r.offset, r.key)) for r in batch]
        await pipeline.handle_batch(inbound, limits.max_accounts)

    on_batch.__doc__ = description or f"{pipeline.service} consumes {pipeline.topic}"
    subscriber = broker.subscriber(
        pipeline.topic,
        group_id=group_id,
        auto_offset_reset="earliest",
        ack_policy=COMMIT_AFTER_HANDLING,
        batch=True,
        max_records=limits.max_in_flight,
        batch_timeout_ms=limits.fetch_wait_ms,
        title=f"{pipeline.topic}:{pipeline.service}",
        max_poll_interval_ms=30 * 60 * 1000,  # a long SMTP/Mongo outage must not evict us
        # A service's subscribers share one group: each join is a rebalance the others learn of
        # at their next heartbeat, so a 3 s default made every start (and failover) 3 s slower.
        heartbeat_interval_ms=500,
        listener=Reassignments(on_reassignment),
    )
    subscriber(on_batch)
    return subscriber


def _lane_of(item: tuple[Outcome, bytes | None, Origin]) -> bytes | int:
    """Records are keyed by account id; records without a key share their partition's lane."""
    origin = item[2]
    return origin.key if origin.key is not None else origin.partition
