"""The subscription's fetch for FastStream's consume loop: it waits for records round after
round without returning empty, and an empty answer given before its time does not make it spin."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

from services.runtime.concurrency import Concurrency
from services.runtime.dlq import Origin
from services.runtime.subscription import EARLY_EMPTY_PAUSE, KeyOrderedSubscription

WAIT_MS = 40


async def _nothing(value: bytes | None, origin: Origin) -> None:
    return None


def _fetch() -> Any:
    subscription = KeyOrderedSubscription(_nothing, Concurrency(fetch_wait_ms=WAIT_MS))
    subscriber = SimpleNamespace(max_records=7, get_msg=None)
    subscription.attach(subscriber)  # type: ignore[arg-type]
    return subscriber.get_msg


class IdleThenRecords:
    """A consumer with nothing for `idle_rounds` full waits, then two partitions' records."""

    def __init__(self, idle_rounds: int) -> None:
        self.idle_rounds = idle_rounds
        self.calls: list[tuple[int, int | None]] = []

    async def getmany(self, timeout_ms: int, max_records: int | None = None) -> dict[str, Any]:
        self.calls.append((timeout_ms, max_records))
        if len(self.calls) <= self.idle_rounds:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        return {"p0": ["a", "b"], "p1": ["c"]}


class EmptyAtOnce:
    def __init__(self) -> None:
        self.calls = 0

    async def getmany(self, timeout_ms: int, max_records: int | None = None) -> dict[str, Any]:
        self.calls += 1
        return {}


async def test_idle_rounds_are_waited_through_and_the_records_returned_together() -> None:
    consumer = IdleThenRecords(idle_rounds=3)
    records = await _fetch()(consumer)
    assert records == ("a", "b", "c")
    assert consumer.calls == [(WAIT_MS, 7)] * 4  # one call per round, none returned empty


async def test_an_empty_answer_before_its_time_returns_after_a_pause_instead_of_spinning() -> None:
    consumer = EmptyAtOnce()
    began = time.monotonic()
    assert await _fetch()(consumer) == ()
    assert consumer.calls == 1
    assert time.monotonic() - began >= EARLY_EMPTY_PAUSE * 0.9
