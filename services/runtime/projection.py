"""Reading a projection of another service's events, which may lag a little behind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def with_grace(lookup: Callable[[], Awaitable[T | None]], seconds: float) -> T | None:
    """`lookup()`, retried for up to `seconds` while it finds nothing: a command may arrive a
    moment before the event (on another topic) that makes its actor known."""
    found = await lookup()
    waited = 0.0
    while found is None and waited < seconds:
        await asyncio.sleep(0.1)
        waited += 0.1
        found = await lookup()
    return found
