"""Key-ordered concurrency: records of different keys run at once, records of one key in order.

The model is Confluent's parallel consumer with key ordering. Fetched records are put in one
lane per (partition, key) — the key is the account id — and every lane runs on its own, at most
`max_keys` at a time, across fetches: a slow account holds up only its own records. What may be
committed is kept per partition by `OffsetBook` (the lowest record not finished), so a commit
never passes a record that is still running or waiting. At most `max_in_flight` records are
held at once; `submit` waits for room (backpressure on the fetching loop).

When partitions change hands (`revoke`) the waiting records of those partitions are dropped —
their new owner reads them again from the committed offset — and the running ones get
`patience` seconds to finish before they are cancelled. A record fetched before a change of
hands is recognised by its `generation` and dropped too. A record whose work raises (the
pipeline handles every failure it knows, so this is a bug or a failure of the dead-letter
publish itself) is tried again after a backoff, in its place: its lane and its partition's
commits wait for it, exactly as a record that is read again would.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass

from services.runtime.cancellation import cancel_until_done, raise_if_cancelled
from services.runtime.dlq import Origin
from services.runtime.offsets import OffsetBook, Partition

log = logging.getLogger(__name__)

MAX_RETRY_BACKOFF_SECONDS = 30.0


Lane = tuple[Partition, bytes | None]  # (partition, key): one account's records of one partition


@dataclass(frozen=True)
class Job:
    origin: Origin
    run: Callable[[], Awaitable[None]]

    @property
    def partition(self) -> Partition:
        return (self.origin.topic, self.origin.partition)

    @property
    def lane(self) -> Lane:
        """Records are keyed by account id; records without a key share their partition's.
        A subscription to several topics keeps them in lanes of their own: what must run in
        turn across topics takes turns in the handler (`Dispatch(one_account_at_a_time)`),
        which lets one wait for another (a command for the event that makes its actor known)."""
        return (self.partition, self.origin.key)


class KeyOrderedLanes:
    def __init__(self, max_in_flight: int, max_keys: int, base_backoff: float = 0.2) -> None:
        self.book = OffsetBook()
        self.generation = 0  # raised whenever partitions change hands
        self.progress = asyncio.Event()  # set when a record finished (something to commit)
        self._max_in_flight = max_in_flight
        self._gate = asyncio.Semaphore(max_keys)
        self._base_backoff = base_backoff
        self._queues: dict[Lane, deque[Job]] = {}  # a running lane's job is its head
        self._tasks: dict[Lane, asyncio.Task[None]] = {}
        self._running: set[Lane] = set()
        self._in_flight = 0
        self._freed = asyncio.Event()
        self._closed = False

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def closed(self) -> bool:
        return self._closed

    async def submit(self, jobs: list[Job], generation: int) -> int:
        """Queue `jobs` (fetched at `generation`) in their lanes, once there is room; returns
        how many were taken (not: fetched before partitions changed hands, the lanes closed,
        or a record its partition already had)."""
        while not self._has_room(len(jobs), generation):
            self._freed.clear()
            await self._freed.wait()
        if self._closed or generation != self.generation:
            return 0
        taken = 0
        for job in jobs:
            if not self.book.receive(job.partition, job.origin.offset):
                continue
            taken += 1
            self._in_flight += 1
            self._queues.setdefault(job.lane, deque()).append(job)
            if job.lane not in self._tasks:
                self._tasks[job.lane] = asyncio.create_task(self._run_lane(job.lane))
        return taken

    async def settle(self, patience: float) -> None:
        """Wait until every held record has finished, at most `patience` seconds. The fetching
        loop calls it after each submit: records that arrive meanwhile are fetched together and
        start together, so their database requests go out together (`coalesce.py`), while a
        slow account holds up the next fetch for at most `patience`."""
        deadline = asyncio.get_running_loop().time() + patience
        while self._in_flight and not self._closed:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return
            self._freed.clear()
            try:
                async with asyncio.timeout(remaining):
                    await self._freed.wait()
            except TimeoutError:
                return

    def assigned(self, partitions: Collection[Partition]) -> None:
        """A new assignment: the consumer reads each partition from its committed offset, so
        whatever is held of partitions no longer assigned is dropped."""
        self.generation += 1
        gone = self.book.partitions() - set(partitions)
        self._drop_waiting(gone)
        self.book.forget(gone)

    async def revoke(
        self, partitions: Collection[Partition], patience: float
    ) -> dict[Partition, int]:
        """Partitions change hands: drop their waiting records, give the running ones
        `patience` seconds, cancel the rest; returns the offsets to commit for them."""
        revoked = set(partitions)
        if not revoked:  # aiokafka's first join revokes nothing
            return {}
        self.generation += 1
        self._drop_waiting(revoked)
        busy = [task for lane, task in self._tasks.items() if lane[0] in revoked]
        await self._finish(busy, patience)
        offsets = {p: o for p, o in self.book.to_commit().items() if p in revoked}
        self.book.forget(revoked)
        return offsets

    async def close(self, patience: float) -> dict[Partition, int]:
        """Stop: take nothing more, drop what waits, let the running records finish for up to
        `patience` seconds, cancel the rest; returns the offsets to commit."""
        self._closed = True
        self._freed.set()
        self._drop_waiting(self.book.partitions())
        await self._finish(list(self._tasks.values()), patience)
        return self.book.to_commit()

    def _has_room(self, wanted: int, generation: int) -> bool:
        if self._closed or generation != self.generation or self._in_flight == 0:
            return True
        return self._in_flight + wanted <= self._max_in_flight

    def _drop_waiting(self, partitions: Collection[Partition]) -> None:
        """Drop the records of `partitions` not yet started (a running lane keeps its head)."""
        for lane, queue in self._queues.items():
            if not queue or queue[0].partition not in partitions:
                continue
            keep = 1 if lane in self._running else 0
            dropped = len(queue) - keep
            while len(queue) > keep:
                queue.pop()
            self._released(dropped)

    async def _finish(self, tasks: list[asyncio.Task[None]], patience: float) -> None:
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=patience)
        if late:
            log.warning("%d records did not finish in %.0f s; cancelling them", len(late), patience)
            left = await cancel_until_done(late, patience=patience)
            if left:
                log.error("%d records ignored their cancellation; leaving them", len(left))

    async def _run_lane(self, lane: Lane) -> None:
        queue = self._queues[lane]
        try:
            async with self._gate:
                self._running.add(lane)
                while queue:
                    raise_if_cancelled()  # a stopped lane starts no further record
                    job = queue[0]
                    await self._until_done(job)
                    queue.popleft()
                    self._released(1)
                    self.book.finish(job.partition, job.origin.offset)
                    self.progress.set()
        finally:
            # Nothing awaits between the empty queue and here: a job submitted meanwhile
            # would have found this lane's task and been left to it.
            self._running.discard(lane)
            del self._tasks[lane]
            del self._queues[lane]
            self._released(len(queue))  # cancelled: what it still held is not handled here

    async def _until_done(self, job: Job) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await job.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(
                    "%s[%s]@%s failed outside the pipeline's own handling (attempt %d); "
                    "trying it again",
                    job.origin.topic,
                    job.origin.partition,
                    job.origin.offset,
                    attempt,
                )
            backoff = self._base_backoff * 2.0 ** (attempt - 1)
            await asyncio.sleep(min(MAX_RETRY_BACKOFF_SECONDS, backoff))
            raise_if_cancelled()

    def _released(self, count: int) -> None:
        if count:
            self._in_flight -= count
            self._freed.set()
