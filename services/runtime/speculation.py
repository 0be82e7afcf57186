"""A read that depends on another read, started before that one answers, on a guess.

A member's page of clients depends on the member (their scope), read first: two round trips
one after the other. The scope a member's last page was read with is nearly always the scope of
their next, so the page's read can start at once with that guess, alongside the member's own
read. The answer is always the one for the member as read now: when the guess was right, the
read already under way is it; when it was wrong, that read is dropped and the page read again
with the scope as read (what the two reads would have cost anyway).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

G = TypeVar("G")
T = TypeVar("T")


async def read_on_a_guess(
    guess: G | None, actual: Awaitable[G], read: Callable[[G], Awaitable[T]]
) -> tuple[G, T]:
    """`read(what actual gives)`, and what `actual` gave. With a guess, `read(guess)` starts
    at once and is the answer if the guess equals `actual`'s; otherwise it is cancelled and
    `read` runs again. An error of `actual` cancels the guessed read and is raised."""
    if guess is None:
        known = await actual
        return known, await read(known)
    guessed = asyncio.ensure_future(read(guess))
    try:
        known = await actual
    except BaseException:
        _drop(guessed)
        raise
    if known == guess:
        return known, await guessed
    _drop(guessed)
    return known, await read(known)


def _drop(task: asyncio.Future[T]) -> None:
    """Cancel a read nobody will use, and take its error when it ends (unused, not logged)."""
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


class RecentGuesses(Generic[G]):
    """The last value seen for each key, for the next read's guess; at most `size` keys (the
    least recently used go first)."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._values: OrderedDict[Hashable, G] = OrderedDict()

    def get(self, key: Hashable) -> G | None:
        value = self._values.get(key)
        if value is not None:
            self._values.move_to_end(key)
        return value

    def remember(self, key: Hashable, value: G) -> None:
        self._values[key] = value
        self._values.move_to_end(key)
        while len(self._values) > self.size:
            self._values.popitem(last=False)
