"""Long loops that still stop when cancelled, on Python 3.11.

Python 3.11's `asyncio.wait_for` (aiosmtplib connects and reads through it) answers a
cancellation that arrives just as its inner future completes with that future's result or
error instead (CPython gh-86296, fixed in 3.12), and the task goes on as if never cancelled. A
refused SMTP connection completes at once, so the notifications retrier, working through many
due emails while the mail server was down, lost a shutdown's cancellation that way and kept
the process alive for minutes. A loop over many items (or retries) calls `raise_if_cancelled`
between them: a cancellation that was asked for and then lost ends the loop there; and whoever
stops tasks cancels them until they end (`cancel_until_done`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


def raise_if_cancelled() -> None:
    """CancelledError if this task's cancellation was asked for (and never taken back)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def cancel_until_done(
    tasks: Iterable[asyncio.Task[None]], patience: float, every: float = 0.2
) -> set[asyncio.Task[None]]:
    """Cancel `tasks` again every `every` seconds until they have ended (a cancellation can be
    lost); returns those still running after `patience` seconds."""
    pending = set(tasks)
    deadline = asyncio.get_running_loop().time() + patience
    while pending and asyncio.get_running_loop().time() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=every)
    return pending
