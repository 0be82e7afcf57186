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
