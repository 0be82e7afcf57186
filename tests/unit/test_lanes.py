"""Key-ordered concurrency: one key's records in order, different keys at once, bounded."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from services.runtime.lanes import lanes_by_key, run_in_key_order
from tests.lost_cancellation import refused_connect

Record = tuple[str, int]  # (key, sequence number within the key)


def _interleaved(keys: int, per_key: int) -> list[Record]:
    return [(f"k{k}", n) for n in range(per_key) for k in range(keys)]


def test_lanes_keep_each_keys_arrival_order() -> None:
    lanes = lanes_by_key(_interleaved(3, 4), key=lambda r: r[0])
    assert lanes == [[(f"k{k}", n) for n in range(4)] for k in range(3)]


async def test_one_keys_records_run_in_order_and_keys_overlap() -> None:
    done: list[Record] = []
    running = 0
    most_at_once = 0

    async def work(record: Record) -> None:
        nonlocal running, most_at_once
        running += 1
        most_at_once = max(most_at_once, running)
        await asyncio.sleep(0.001 * (hash(record) % 5))  # uneven durations
        done.append(record)
        running -= 1

    await run_in_key_order(_interleaved(20, 10), lambda r: r[0], work, max_lanes=8)

    assert len(done) == 200
    for k in range(20):
        assert [n for key, n in done if key == f"k{k}"] == list(range(10))
    assert most_at_once == 8  # concurrent, and never more lanes than allowed


async def test_a_failing_record_fails_the_batch_and_stops_its_lane() -> None:
    done: list[Record] = []

    async def work(record: Record) -> None:
        if record == ("k1", 2):
            raise RuntimeError("boom")
        await asyncio.sleep(0)
        done.append(record)

    with pytest.raises(ExceptionGroup):
        await run_in_key_order(_interleaved(3, 5), lambda r: r[0], work, max_lanes=3)
    assert ("k1", 3) not in done  # nothing of that key after the failure


@pytest.mark.parametrize("keys", [1, 3])
async def test_a_stopped_batch_starts_no_further_record_even_if_a_library_lost_the_stop(
    keys: int,
) -> None:
    """The consumer is stopped while a record's work is in a refused connect that swallows the
    cancellation (Python 3.11): that record finishes its way, its lane starts nothing more."""
    started: list[Record] = []
    batch: asyncio.Task[None] | None = None

    async def work(record: Record) -> None:
        started.append(record)
        if record == ("k0", 0):
            assert batch is not None
            with contextlib.suppress(ConnectionRefusedError):
                await refused_connect(cancel_with_it=batch.cancel)
        await asyncio.sleep(0)

    batch = asyncio.create_task(
        run_in_key_order(_interleaved(keys, 5), lambda r: r[0], work, max_lanes=keys)
    )
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(batch, timeout=2)
    assert [n for key, n in started if key == "k0"] == [0]
