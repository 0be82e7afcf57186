"""A refused connection that swallows a cancellation, as aiosmtplib's connect does on Python
3.11 when a shutdown's cancellation arrives in the loop turn the refusal completes in:
`asyncio.wait_for` then raises the refusal, and the task runs on (CPython gh-86296)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def refused_connect(cancel_with_it: Callable[[], object] | None = None) -> None:
    """ConnectionRefusedError; `cancel_with_it` (a task's `cancel`) is called in the same loop
    turn as the refusal completes."""
    loop = asyncio.get_running_loop()
    connect: asyncio.Future[None] = loop.create_future()
    loop.call_soon(connect.set_exception, ConnectionRefusedError())
    if cancel_with_it is not None:
        loop.call_soon(cancel_with_it)
    await asyncio.wait_for(connect, timeout=5)
