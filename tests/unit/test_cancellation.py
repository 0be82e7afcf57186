"""Stopping tasks when a cancellation can be lost (Python 3.11's `asyncio.wait_for`)."""

from __future__ import annotations

import asyncio
import contextlib
import sys

from services.runtime.cancellation import cancel_until_done, raise_if_cancelled
from tests.lost_cancellation import refused_connect


async def test_a_loop_that_lost_its_cancellation_in_a_refused_connect_stops_at_the_next_item() -> (
    None
):
    tried: list[int] = []

    async def work_through(items: range, guarded: bool) -> None:
        for item in items:
            if guarded:
                raise_if_cancelled()
            tried.append(item)
            me = asyncio.current_task()
            assert me is not None
            with contextlib.suppress(ConnectionRefusedError):  # the server is down
                await refused_connect(cancel_with_it=me.cancel if item == 0 else None)

    if sys.version_info < (3, 12):  # the premise: there, the cancellation is lost
        await asyncio.create_task(work_through(range(5), guarded=False))
        assert tried == [0, 1, 2, 3, 4]
        tried.clear()
    guarded = asyncio.create_task(work_through(range(5), guarded=True))
    await asyncio.wait({guarded}, timeout=2)
    assert guarded.cancelled() and tried == [0]


async def test_a_task_that_lost_its_first_cancellation_is_cancelled_again_until_it_ends() -> None:
    async def loses_the_first_stop() -> None:
        with contextlib.suppress(asyncio.CancelledError):  # lost, as wait_for can lose one
            await asyncio.sleep(10)
        while True:
            await asyncio.sleep(0.01)

    task = asyncio.create_task(loses_the_first_stop())
    await asyncio.sleep(0)
    assert await cancel_until_done([task], patience=2) == set()
    assert task.cancelled()


async def test_a_task_that_never_stops_is_left_after_the_patience() -> None:
    stop = asyncio.Event()

    async def stubborn() -> None:
        while not stop.is_set():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)

    task = asyncio.create_task(stubborn())
    await asyncio.sleep(0)
    started = asyncio.get_running_loop().time()
    assert await cancel_until_done([task], patience=0.5) == {task}
    assert 0.5 <= asyncio.get_running_loop().time() - started < 1.5
    stop.set()
    task.cancel()
    await asyncio.wait({task}, timeout=2)
    assert task.done()
