"""Requests made in the same event-loop turn, sent as one (the DataLoader pattern).

With accounts handled concurrently, many handlers ask the database for a document by id, or
insert one, at about the same moment; each such round trip costs the client, FerretDB and
PostgreSQL far more than one more document in a shared request. A `Coalescer` collects the calls
made before the loop gets back to it and runs them as one request; each caller gets its own
answer (or its own error) as if it had asked alone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")

# Runs many requests at once: one answer per request, in order (an exception: that one failed).
RunMany = Callable[[list[K]], Awaitable[Sequence[V | BaseException]]]


class Coalescer(Generic[K, V]):
    def __init__(self, run_many: RunMany[K, V], max_batch: int = 500) -> None:
        self.run_many = run_many
        self.max_batch = max_batch
        self._pending: list[tuple[K, asyncio.Future[V]]] = []
        self._flushing: set[asyncio.Task[None]] = set()

    async def __call__(self, request: K) -> V:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V] = loop.create_future()
        if not self._pending:
            loop.call_soon(self._flush)  # after the callbacks already due in this turn
        self._pending.append((request, future))
        return await future

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), self.max_batch):
            task = asyncio.create_task(self._run(pending[start : start + self.max_batch]))
            self._flushing.add(task)  # a reference, so the task is not collected mid-flight
            task.add_done_callback(self._flushing.discard)

    async def _run(self, batch: list[tuple[K, asyncio.Future[V]]]) -> None:
        try:
            answers = await self.run_many([request for request, _ in batch])
        except asyncio.CancelledError:
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001 - each caller gets the shared request's failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if future.done():
                continue  # its caller was cancelled meanwhile
            if isinstance(answer, BaseException):
                future.set_exception(answer)
            else:
                future.set_result(answer)
