"""One lock per key: one holder at a time per key, keys independent, nothing kept afterwards."""

from __future__ import annotations

import asyncio

from services.runtime.keyed_locks import KeyedLocks


async def test_one_holder_per_key_at_a_time_and_nothing_left_behind() -> None:
    locks = KeyedLocks()
    holding = {"a": 0, "b": 0}
    most = {"a": 0, "b": 0}

    async def use(key: str) -> None:
        async with locks.hold(key):
            holding[key] += 1
            most[key] = max(most[key], holding[key])
            await asyncio.sleep(0.001)
            holding[key] -= 1

    await asyncio.gather(*[use(k) for k in "abababab"])
    assert most == {"a": 1, "b": 1}
    assert len(locks) == 0


async def test_a_woken_waiter_keeps_the_lock_a_newcomer_would_share() -> None:
    """The released lock reads as unlocked before its woken waiter takes it; a newcomer must
    still queue behind that waiter, not get a fresh lock of its own."""
    locks = KeyedLocks()
    inside = 0
    most = 0

    async def use() -> None:
        nonlocal inside, most
        async with locks.hold("k"):
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0)
            inside -= 1

    first = asyncio.create_task(use())
    await asyncio.sleep(0)
    waiter = asyncio.create_task(use())
    await asyncio.sleep(0)
    await asyncio.gather(first, waiter, use())
    assert most == 1
    assert len(locks) == 0
