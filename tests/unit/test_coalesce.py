"""Calls made in one event-loop turn go out as one request; each caller gets its own answer."""

from __future__ import annotations

import asyncio

from services.runtime.coalesce import Coalescer


class Server:
    def __init__(self) -> None:
        self.requests: list[list[int]] = []

    async def double(self, numbers: list[int]) -> list[int | BaseException]:
        self.requests.append(numbers)
        await asyncio.sleep(0.01)
        return [ValueError(f"no {n}") if n < 0 else n * 2 for n in numbers]


async def test_concurrent_calls_share_one_request_and_get_their_own_answers() -> None:
    server = Server()
    double = Coalescer(server.double)
    answers = await asyncio.gather(*[double(n) for n in range(10)])
    assert answers == [n * 2 for n in range(10)]
    assert server.requests == [list(range(10))]
    assert await double(7) == 14  # a later call is a request of its own
    assert len(server.requests) == 2


async def test_one_failed_answer_fails_only_its_caller() -> None:
    double = Coalescer(Server().double)
    results = await asyncio.gather(double(1), double(-1), double(2), return_exceptions=True)
    assert results[0] == 2 and results[2] == 4
    assert isinstance(results[1], ValueError)


async def test_a_failed_request_fails_every_caller_and_the_next_call_tries_again() -> None:
    calls = 0

    async def flaky(numbers: list[int]) -> list[int | BaseException]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("down")
        return numbers

    echo = Coalescer(flaky)
    results = await asyncio.gather(echo(1), echo(2), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert await echo(3) == 3


async def test_batches_are_bounded_and_a_cancelled_caller_leaves_the_others_alone() -> None:
    server = Server()
    double = Coalescer(server.double, max_batch=4)
    tasks = [asyncio.create_task(double(n)) for n in range(10)]
    await asyncio.sleep(0)
    tasks[3].cancel()
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert [len(r) for r in server.requests] == [4, 4, 2]
    assert isinstance(done[3], asyncio.CancelledError)
    assert [d for i, d in enumerate(done) if i != 3] == [n * 2 for n in range(10) if n != 3]
