"""Reading a projection of another service's events, which may lag a little behind."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TypeVar

from services.runtime.clock import Clock

T = TypeVar("T")


async def with_grace(
    lookup: Callable[[], Awaitable[T | None]], sent_at: datetime, grace: float, clock: Clock
) -> T | None:
    """`lookup()`, retried while it finds nothing and the command is younger than `grace`
    seconds: a command may arrive a moment before the event (on another topic) that makes its
    actor known. An older command (a backlog) gets no wait: the projection had its time."""
    deadline = sent_at + timedelta(seconds=grace)
    found = await lookup()
    while found is None and clock.now() < deadline:
        await asyncio.sleep(0.1)
        found = await lookup()
    return found
