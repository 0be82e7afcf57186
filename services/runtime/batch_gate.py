"""Work that can wait a little, started together (write-behind with a short window).

A handler's answer does not wait for its bookkeeping writes (the outbox clear, a local record).
Sent one by one, right after each answer, they compete with the next message's own write for
the same database and the same CPU; held for a few milliseconds, the writes of every
message answered meanwhile start in one loop turn, so the coalescers send them as one request
per collection. Whoever needs one of them done (the next write of the same document, a reader
of the records, a stop) opens the gate at once instead of waiting out the window.
"""

from __future__ import annotations

import asyncio


class BatchGate:
    def __init__(self, window: float) -> None:
        self.window = window  # seconds; 0: nothing waits
        self._gate: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None

    def next_opening(self) -> asyncio.Future[None] | None:
        """The opening the work arriving now waits for: the one already due, or one `window`
        from now. None when there is no window."""
        if self.window <= 0:
            return None
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate.done() or self._gate.get_loop() is not loop:
            self._gate = loop.create_future()
            self._timer = loop.call_later(self.window, self.open_now)
        return self._gate

    def open_now(self) -> None:
        """Start whatever waits, without waiting out the window."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._gate is not None and not self._gate.done():
            self._gate.set_result(None)


async def passed(opening: asyncio.Future[None] | None) -> None:
    """Wait for `opening` (None: go at once); a cancelled waiter leaves it to the others."""
    if opening is not None:
        await asyncio.shield(opening)
