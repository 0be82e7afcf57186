"""Key-ordered concurrency: records of different keys run at once, records of one key in order.

The model is Confluent's parallel consumer with key ordering, at the granularity of one fetch:
a consumer fetches a bounded batch, `run_in_key_order` splits it into one lane per key (the
account id), runs the lanes concurrently (at most `max_lanes` at a time) and returns when every
record of the batch is done. Only then are the batch's offsets committed, so a committed offset
never passes a record that is not finished; a crash or a rebalance mid-batch commits nothing of
it and the batch is read again (the handlers are idempotent). The next fetch waits for this
batch: the number of records in memory is bounded by the fetch size (backpressure).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import TypeVar

from services.runtime.cancellation import raise_if_cancelled

R = TypeVar("R")


def lanes_by_key(records: Iterable[R], key: Callable[[R], Hashable]) -> list[list[R]]:
    """One list per key, in the order of the key's first record; each list in arrival order."""
    lanes: dict[Hashable, list[R]] = {}
    for record in records:
        lanes.setdefault(key(record), []).append(record)
    return list(lanes.values())


async def run_in_key_order(
    records: Iterable[R],
    key: Callable[[R], Hashable],
    work: Callable[[R], Awaitable[None]],
    max_lanes: int,
) -> None:
    """Run `work` on every record: one key's records one after another, keys concurrently.
    If one record's work raises, the other lanes are cancelled and the error propagates (the
    caller then commits nothing of the batch)."""
    lanes = lanes_by_key(records, key)
    if len(lanes) == 1:
        await _in_order(lanes[0], work)
        return
    gate = asyncio.Semaphore(max_lanes)

    async def run_lane(lane: list[R]) -> None:
        async with gate:
            await _in_order(lane, work)

    async with asyncio.TaskGroup() as group:
        for lane in lanes:
            group.create_task(run_lane(lane))


async def _in_order(lane: list[R], work: Callable[[R], Awaitable[None]]) -> None:
    """A stopped consumer's lane ends after its current record, even if a library lost the
    cancellation (`cancellation.py`)."""
    for record in lane:
        raise_if_cancelled()
        await work(record)
