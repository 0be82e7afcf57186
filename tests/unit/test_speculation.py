"""A read started on a guess: the answer is always the read for what the first read gives."""

from __future__ import annotations

import asyncio
import gc

import pytest

from services.runtime.speculation import RecentGuesses, read_on_a_guess


class Reads:
    """A read by scope that records what it was asked and waits until released."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self.cancelled: list[str] = []
        self.release = asyncio.Event()

    async def read(self, scope: str) -> str:
        self.asked.append(scope)
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled.append(scope)
            raise
        return f"page of {scope}"


async def settle() -> None:
    """Let the tasks that are ready run until they wait."""
    for _ in range(5):
        await asyncio.sleep(0)


async def answered(value: str, after: asyncio.Event) -> str:
    await after.wait()
    return value


async def test_without_a_guess_the_read_waits_for_the_first() -> None:
    reads = Reads()
    reads.release.set()
    assert await read_on_a_guess(None, answered("tags:kids", reads.release), reads.read) == (
        "tags:kids",
        "page of tags:kids",
    )
    assert reads.asked == ["tags:kids"]


async def test_a_right_guess_reads_once_and_before_the_first_read_answers() -> None:
    reads, member_read = Reads(), asyncio.Event()
    task = asyncio.create_task(
        read_on_a_guess("tags:kids", answered("tags:kids", member_read), reads.read)
    )
    await settle()
    assert reads.asked == ["tags:kids"]  # under way while the member is still being read
    member_read.set()
    reads.release.set()
    assert await task == ("tags:kids", "page of tags:kids")
    assert reads.asked == ["tags:kids"]


async def test_a_wrong_guess_is_dropped_and_the_read_made_again_for_what_was_read() -> None:
    reads, member_read = Reads(), asyncio.Event()
    task = asyncio.create_task(
        read_on_a_guess("tags:kids", answered("tags:adults", member_read), reads.read)
    )
    await settle()
    member_read.set()
    await settle()
    reads.release.set()
    assert await task == ("tags:adults", "page of tags:adults")
    assert reads.asked == ["tags:kids", "tags:adults"]
    assert reads.cancelled == ["tags:kids"]


async def test_an_error_of_the_first_read_cancels_the_guessed_one_and_is_raised() -> None:
    reads = Reads()

    async def unknown_member() -> str:
        await asyncio.sleep(0)
        raise LookupError("no member ann")

    with pytest.raises(LookupError, match="no member ann"):
        await read_on_a_guess("tags:kids", unknown_member(), reads.read)
    await settle()
    assert reads.cancelled == ["tags:kids"]


async def test_an_error_of_a_rightly_guessed_read_is_raised() -> None:
    async def failing(scope: str) -> str:
        raise ConnectionError(f"database down while reading {scope}")

    done = asyncio.Event()
    done.set()
    with pytest.raises(ConnectionError, match="tags:kids"):
        await read_on_a_guess("tags:kids", answered("tags:kids", done), failing)


async def test_a_wrongly_guessed_read_that_fails_is_neither_raised_nor_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def read(scope: str) -> str:
        if scope == "tags:kids":
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:  # as a driver may, closing its connection
                raise ConnectionError("the guessed read failed as it was cancelled") from None
        return f"page of {scope}"

    async def member() -> str:
        await asyncio.sleep(0)
        return "tags:adults"

    assert await read_on_a_guess("tags:kids", member(), read) == (
        "tags:adults",
        "page of tags:adults",
    )
    await settle()
    gc.collect()  # an unretrieved task error is logged when the task is collected
    assert "never retrieved" not in caplog.text


def test_recent_guesses_keep_the_last_value_of_the_most_recent_keys() -> None:
    guesses: RecentGuesses[str] = RecentGuesses(size=2)
    guesses.remember(("acct-1", "ann"), "tags:kids")
    guesses.remember(("acct-1", "bob"), "everything")
    guesses.remember(("acct-1", "ann"), "tags:adults")
    assert guesses.get(("acct-1", "ann")) == "tags:adults"
    guesses.remember(("acct-1", "cat"), "nothing")  # bob, least recently used, goes
    assert guesses.get(("acct-1", "bob")) is None
    assert guesses.get(("acct-1", "ann")) == "tags:adults"
    assert guesses.get(("acct-1", "cat")) == "nothing"
