"""How many invitations an account created in the last hour, counted once and then kept.

The hourly limit needs, for each invitation, the account's invitations created in the hour
before. Counting them is the dearest query an invitation makes (DocumentDB rechecks every
document in the window). An account far below its limit needs no exact number: an upper bound
below the limit decides the same. So the count is made once, then raised by one for each
invitation this process creates; only a bound that reaches the limit is counted again (the old
ones may have left the window by then).

The bound holds while this process alone creates the account's invitations: an account's
commands are on one partition, handled in order by the instance that owns it. Whenever the
partition assignment changes, `forget_all` drops every bound (and a count that was under way
across that moment is not kept).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

MAX_ACCOUNTS = 10_000


@dataclass
class _Bound:
    since: datetime  # the start of the window it was counted for
    count: int


class RecentCreations:
    def __init__(self, limit: int, window: timedelta = timedelta(hours=1)) -> None:
        self.limit = limit
        self.window = window
        self._bounds: OrderedDict[str, _Bound] = OrderedDict()
        self._generation = 0  # one more at each forget_all

    async def in_window(
        self, account: str, now: datetime, count: Callable[[], Awaitable[int]]
    ) -> int:
        """The account's invitations created in the window before `now` (by `count`), or a
        bound of that number which is below the limit."""
        since = now - self.window
        bound = self._bounds.get(account)
        if bound is not None and bound.since <= since and bound.count < self.limit:
            self._bounds.move_to_end(account)
            return bound.count
        generation = self._generation
        counted = await count()
        if generation == self._generation:
            self._bounds[account] = _Bound(since, counted)
            self._bounds.move_to_end(account)
            while len(self._bounds) > MAX_ACCOUNTS:
                self._bounds.popitem(last=False)
        return counted

    def created(self, account: str) -> None:
        """This process created one more invitation for `account`."""
        bound = self._bounds.get(account)
        if bound is not None:
            bound.count += 1

    def forget_all(self) -> None:
        self._bounds.clear()
        self._generation += 1
