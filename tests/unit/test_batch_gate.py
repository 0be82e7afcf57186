"""The batch gate: work arriving within one window starts together when the window ends, or at
once when someone opens the gate; without a window nothing waits."""

from __future__ import annotations

import asyncio

from services.runtime.batch_gate import BatchGate, passed


async def started_at(gate: BatchGate, times: list[float]) -> None:
    await passed(gate.next_opening())
    times.append(asyncio.get_running_loop().time())


async def test_work_arriving_within_the_window_starts_together_when_it_ends() -> None:
    gate, times = BatchGate(0.2), []
    loop = asyncio.get_running_loop()
    first = loop.time()
    waiting = [asyncio.create_task(started_at(gate, times))]
    await asyncio.sleep(0.05)
    waiting.append(asyncio.create_task(started_at(gate, times)))
    await asyncio.sleep(0.05)
    assert times == []
    await asyncio.wait_for(asyncio.gather(*waiting), timeout=5)
    assert min(times) >= first + 0.19  # the window counts from the first arrival
    assert max(times) - min(times) < 0.01


async def test_opening_the_gate_starts_what_waits_without_waiting_out_the_window() -> None:
    gate, times = BatchGate(30.0), []
    waiting = asyncio.create_task(started_at(gate, times))
    await asyncio.sleep(0.01)
    gate.open_now()
    await asyncio.wait_for(waiting, timeout=5)
    assert len(times) == 1


async def test_work_after_an_opening_waits_for_the_next_window() -> None:
    gate, times = BatchGate(0.05), []
    await asyncio.wait_for(started_at(gate, times), timeout=5)
    later = asyncio.create_task(started_at(gate, times))
    await asyncio.sleep(0.01)
    assert len(times) == 1  # a new window, not the one already open
    await asyncio.wait_for(later, timeout=5)
    assert len(times) == 2


async def test_without_a_window_nothing_waits() -> None:
    gate = BatchGate(0.0)
    assert gate.next_opening() is None
    gate.open_now()  # harmless
    await asyncio.wait_for(passed(gate.next_opening()), timeout=1)


async def test_a_cancelled_waiter_leaves_the_opening_to_the_others() -> None:
    gate, times = BatchGate(0.05), []
    cancelled = asyncio.create_task(started_at(gate, times))
    other = asyncio.create_task(started_at(gate, times))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    await asyncio.wait_for(other, timeout=5)
    assert len(times) == 1


def test_a_gate_left_waiting_in_a_closed_loop_opens_anew_in_the_next() -> None:
    gate = BatchGate(0.05)

    async def arrive() -> None:
        gate.next_opening()  # the loop ends before this window does

    async def arrive_again() -> None:
        await asyncio.wait_for(passed(gate.next_opening()), timeout=5)

    asyncio.run(arrive())
    asyncio.run(arrive_again())
