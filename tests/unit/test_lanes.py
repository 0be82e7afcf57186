"""Key-ordered lanes across fetches: one key in order, keys at once, bounded, commits that
never pass an unfinished record, partitions that change hands."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from services.runtime.dlq import Origin
from services.runtime.lanes import Job, KeyOrderedLanes
from tests.lost_cancellation import refused_connect

TOPIC = "membership.commands"
Work = Callable[[Origin], Awaitable[None]]


def _jobs(work: Work, records: list[tuple[str, int]], partition: int = 0) -> list[Job]:
    """(key, offset) records of one partition."""

    def job(key: str, offset: int) -> Job:
        origin = Origin(TOPIC, partition, offset, key.encode())
        return Job(origin, lambda: work(origin))

    return [job(key, offset) for key, offset in records]


def _interleaved(keys: int, per_key: int, first: int = 0) -> list[tuple[str, int]]:
    order = [f"k{k}" for _ in range(per_key) for k in range(keys)]
    return [(key, first + n) for n, key in enumerate(order)]


async def _until(condition: Callable[[], bool], timeout: float = 5) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.001)


async def test_one_keys_records_run_in_order_keys_overlap_across_fetches() -> None:
    done: list[tuple[bytes, int]] = []
    running = 0
    most_at_once = 0

    async def work(origin: Origin) -> None:
        nonlocal running, most_at_once
        running += 1
        most_at_once = max(most_at_once, running)
        await asyncio.sleep(0.001 * (origin.offset % 5))  # uneven durations
        assert origin.key is not None
        done.append((origin.key, origin.offset))
        running -= 1

    lanes = KeyOrderedLanes(max_in_flight=1000, max_keys=8)
    records = _interleaved(20, 10)
    for fetch in range(4):  # four fetches of 50, each submitted while the last still runs
        await lanes.submit(_jobs(work, records[fetch * 50 : (fetch + 1) * 50]), 0)
    await _until(lambda: len(done) == 200)

    for k in range(20):
        key = f"k{k}".encode()
        offsets = [offset for record_key, offset in done if record_key == key]
        assert offsets == sorted(offsets) and len(offsets) == 10
    assert most_at_once == 8  # concurrent, and never more lanes than allowed
    assert lanes.book.to_commit() == {(TOPIC, 0): 200}
    assert lanes.in_flight == 0


async def test_a_slow_key_holds_only_its_own_records_and_the_commit_below_it() -> None:
    release = asyncio.Event()
    done: list[int] = []

    async def work(origin: Origin) -> None:
        if origin.key == b"slow":
            await release.wait()
        done.append(origin.offset)

    lanes = KeyOrderedLanes(max_in_flight=100, max_keys=8)
    await lanes.submit(_jobs(work, [("a", 0), ("slow", 1), ("b", 2)]), 0)
    await lanes.submit(_jobs(work, [("a", 3), ("slow", 4), ("c", 5)]), 0)  # a later fetch
    await _until(lambda: sorted(done) == [0, 2, 3, 5])

    assert lanes.book.to_commit() == {(TOPIC, 0): 1}  # never past the slow record
    release.set()
    await _until(lambda: len(done) == 6)
    assert done[-2:] == [1, 4]  # the slow key's records, in order
    assert lanes.book.to_commit() == {(TOPIC, 0): 6}


async def test_a_full_set_of_lanes_makes_the_fetch_wait() -> None:
    release = asyncio.Event()

    async def work(origin: Origin) -> None:
        await release.wait()

    lanes = KeyOrderedLanes(max_in_flight=4, max_keys=8)
    await lanes.submit(_jobs(work, _interleaved(4, 1)), 0)
    second = asyncio.create_task(lanes.submit(_jobs(work, _interleaved(2, 1, first=4)), 0))
    await asyncio.sleep(0.05)
    assert not second.done() and lanes.in_flight == 4  # held back: no more than 4 at once
    release.set()
    assert await asyncio.wait_for(second, 5) == 2
    await _until(lambda: lanes.in_flight == 0)


async def test_a_record_whose_work_fails_is_tried_again_in_its_place() -> None:
    attempts = 0
    done: list[int] = []

    async def work(origin: Origin) -> None:
        nonlocal attempts
        if origin.offset == 0:
            attempts += 1
            if attempts < 3:
                raise RuntimeError("the dead-letter topic refused the record")
        done.append(origin.offset)

    lanes = KeyOrderedLanes(max_in_flight=100, max_keys=8, base_backoff=0.01)
    await lanes.submit(_jobs(work, [("a", 0), ("a", 1), ("b", 2)]), 0)
    await _until(lambda: len(done) == 3)
    assert attempts == 3
    assert done.index(0) < done.index(1)  # its key's next record waited for it
    assert lanes.book.to_commit() == {(TOPIC, 0): 3}


async def test_revoked_partitions_drop_waiting_records_and_commit_what_finished() -> None:
    release = asyncio.Event()
    started: list[tuple[int, int]] = []

    async def work(origin: Origin) -> None:
        started.append((origin.partition, origin.offset))
        if origin.offset == 1:
            await release.wait()

    lanes = KeyOrderedLanes(max_in_flight=100, max_keys=8)
    await lanes.submit(_jobs(work, [("a", 0), ("a", 1), ("a", 2), ("a", 3)], partition=0), 0)
    await lanes.submit(_jobs(work, [("b", 0), ("b", 1)], partition=1), 0)
    await _until(lambda: (0, 1) in started)
    revoking = asyncio.create_task(lanes.revoke([(TOPIC, 0)], patience=5))
    await asyncio.sleep(0.05)
    assert not revoking.done()  # waits for the running record
    release.set()
    offsets = await asyncio.wait_for(revoking, 5)

    assert offsets == {(TOPIC, 0): 2}  # 0 and 1 finished; 2 and 3 were dropped, not handled
    assert (0, 2) not in started and (0, 3) not in started
    assert (TOPIC, 0) not in lanes.book.partitions()
    # a batch fetched before the change of hands is not taken after it
    assert await lanes.submit(_jobs(work, [("a", 2)], partition=0), 0) == 0
    assert await lanes.submit(_jobs(work, [("a", 2)], partition=0), lanes.generation) == 1
    await _until(lambda: (0, 2) in started)


async def test_a_record_that_does_not_finish_in_time_is_cancelled_at_a_revoke() -> None:
    async def work(origin: Origin) -> None:
        await asyncio.sleep(3600)

    lanes = KeyOrderedLanes(max_in_flight=100, max_keys=8)
    await lanes.submit(_jobs(work, [("a", 0), ("a", 1)]), 0)
    await asyncio.sleep(0.01)
    offsets = await asyncio.wait_for(lanes.revoke([(TOPIC, 0)], patience=0.05), 5)
    assert offsets == {}  # nothing finished: nothing to commit
    await _until(lambda: lanes.in_flight == 0)


async def test_close_lets_running_records_finish_and_starts_no_other() -> None:
    release = asyncio.Event()
    started: list[int] = []

    async def work(origin: Origin) -> None:
        started.append(origin.offset)
        await release.wait()

    lanes = KeyOrderedLanes(max_in_flight=100, max_keys=8)
    await lanes.submit(_jobs(work, [("a", 0), ("a", 1), ("b", 2)]), 0)
    await _until(lambda: sorted(started) == [0, 2])
    closing = asyncio.create_task(lanes.close(patience=5))
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.wait_for(closing, 5) == {(TOPIC, 0): 1}  # 0 done, 1 never started
    assert sorted(started) == [0, 2]
    assert await lanes.submit(_jobs(work, [("c", 3)]), 0) == 0  # closed: taken no more


async def test_a_stopped_lane_starts_no_further_record_even_if_a_library_lost_the_stop() -> None:
    """The lane is cancelled while its record's work is in a refused connect that swallows the
    cancellation (Python 3.11): that record finishes its way, its lane starts nothing more."""
    started: list[int] = []

    async def work(origin: Origin) -> None:
        started.append(origin.offset)
        if origin.offset == 0:
            task = asyncio.current_task()
            assert task is not None
            with contextlib.suppress(ConnectionRefusedError):
                await refused_connect(cancel_with_it=task.cancel)

    lanes = KeyOrderedLanes(max_in_flight=100, max_keys=8)
    await lanes.submit(_jobs(work, [("a", 0), ("a", 1), ("a", 2)]), 0)
    await _until(lambda: lanes.in_flight == 0)
    assert started == [0]
    assert lanes.book.to_commit() == {(TOPIC, 0): 1}  # the two never started are not committed


async def test_settle_waits_for_the_records_in_hand_but_not_longer_than_its_patience() -> None:
    release = asyncio.Event()

    async def work(origin: Origin) -> None:
        if origin.key == b"slow":
            await release.wait()

    lanes = KeyOrderedLanes(max_in_flight=100, max_keys=8)
    await lanes.submit(_jobs(work, [("a", 0), ("b", 1)]), 0)
    await asyncio.wait_for(lanes.settle(patience=5), 1)  # both finish at once
    assert lanes.in_flight == 0

    await lanes.submit(_jobs(work, [("slow", 2), ("c", 3)]), 0)
    started = asyncio.get_running_loop().time()
    await lanes.settle(patience=0.1)  # the slow one holds the next fetch this long, no longer
    waited = asyncio.get_running_loop().time() - started
    assert 0.09 <= waited < 1 and lanes.in_flight == 1
    release.set()
    await asyncio.wait_for(lanes.settle(patience=5), 1)
    assert lanes.in_flight == 0


async def test_one_keys_records_on_two_topics_run_in_lanes_of_their_own() -> None:
    """A subscription to two topics: an account's record on one topic does not wait for its
    record on the other (a command may wait for the event that makes its actor known)."""
    event_done = asyncio.Event()
    order: list[str] = []

    async def command(origin: Origin) -> None:
        await asyncio.wait_for(event_done.wait(), 2)  # waits for the other topic's record
        order.append(origin.topic)

    async def event(origin: Origin) -> None:
        order.append(origin.topic)
        event_done.set()

    lanes = KeyOrderedLanes(max_in_flight=10, max_keys=4)
    first = Origin("a.commands", 0, 0, b"acct")
    then = Origin("b.events", 0, 0, b"acct")
    await lanes.submit([Job(first, lambda: command(first)), Job(then, lambda: event(then))], 0)
    await _until(lambda: len(order) == 2)
    assert order == ["b.events", "a.commands"]
    await lanes.close(1)
