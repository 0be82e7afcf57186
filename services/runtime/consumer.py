"""What happens to one consumed record: parse, dispatch, retry what may pass, dead-letter what
never will.

A record's offset is committed only after `Pipeline.handle` returned for it and for every
earlier record of its partition (`subscription.py`), so a crash mid-handler means redelivery.
`handle` itself never raises for a bad message: a message that can't succeed goes to the DLQ
(or gets a CommandRejected) and the partition moves on.
"""

from __future__ import annotations

import asyncio
import logging
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from aiokafka.errors import KafkaError
from pydantic import BaseModel

from contracts.common import RejectionReason
from contracts.envelope import RawEnvelope
from services.runtime import tracing
from services.runtime.cancellation import raise_if_cancelled
from services.runtime.collection import VersionConflict
from services.runtime.dlq import Origin, dead_letter
from services.runtime.inbound import InvalidData, Outcome, Parsed, Unparseable, parse
from services.runtime.logs import correlation_id
from services.runtime.metrics import Metrics
from services.runtime.mongo import is_transient
from services.runtime.publisher import Publisher
from services.runtime.rejections import Rejections
from services.runtime.rules import Refusal

log = logging.getLogger(__name__)

Handler = Callable[[Parsed], Awaitable[None]]
T = TypeVar("T")


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
        await self._handle_outcome(parse(value, self.models), value, origin)

    async def _handle_outcome(
        self,
        outcome: Outcome,
        value: bytes | None,
        origin: Origin,
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
                    result = await self._handle(outcome, origin, value)
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

    async def _handle(self, parsed: Parsed, origin: Origin, raw: bytes | None) -> str:
        rejections = self.rejections
        command_id = parsed.envelope.id
        if rejections is not None and await self._retrying(
            lambda: rejections.was_rejected(command_id)
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
