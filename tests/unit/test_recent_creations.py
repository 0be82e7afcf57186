"""The hourly limit's count is made once per account and then kept as an upper bound; only a
bound at the limit, a change of partition owners or a clock that went back makes it count again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from services.invitations.recent import MAX_ACCOUNTS, RecentCreations

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


class Counter:
    def __init__(self, stored: int) -> None:
        self.stored = stored
        self.asked = 0

    async def __call__(self) -> int:
        self.asked += 1
        return self.stored


async def test_counts_once_then_adds_what_it_creates() -> None:
    recent, db = RecentCreations(limit=5), Counter(2)
    assert await recent.in_window("a", T0, db) == 2
    recent.created("a")
    db.stored = 3
    assert await recent.in_window("a", T0 + timedelta(minutes=1), db) == 3
    assert db.asked == 1


async def test_a_bound_at_the_limit_is_counted_again() -> None:
    recent, db = RecentCreations(limit=3), Counter(2)
    await recent.in_window("a", T0, db)
    recent.created("a")  # bound 3: at the limit
    db.stored = 1  # two left the window meanwhile
    assert await recent.in_window("a", T0 + timedelta(minutes=59), db) == 1
    assert db.asked == 2


async def test_a_change_of_owners_forgets_every_bound() -> None:
    recent, db = RecentCreations(limit=5), Counter(1)
    await recent.in_window("a", T0, db)
    recent.forget_all()
    recent.created("a")  # nothing to add to
    db.stored = 4  # another instance created three meanwhile
    assert await recent.in_window("a", T0, db) == 4
    assert db.asked == 2


async def test_a_count_under_way_when_owners_change_is_not_kept() -> None:
    recent = RecentCreations(limit=5)
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow_count() -> int:
        started.set()
        await finish.wait()
        return 1

    counting = asyncio.create_task(recent.in_window("a", T0, slow_count))
    await started.wait()
    recent.forget_all()
    finish.set()
    assert await counting == 1
    db = Counter(3)
    assert await recent.in_window("a", T0, db) == 3 and db.asked == 1


async def test_a_clock_that_went_back_counts_again() -> None:
    recent, db = RecentCreations(limit=5), Counter(1)
    await recent.in_window("a", T0, db)
    await recent.in_window("a", T0 - timedelta(seconds=1), db)
    assert db.asked == 2


async def test_accounts_are_kept_apart_and_the_least_recent_forgotten() -> None:
    recent, db = RecentCreations(limit=500), Counter(0)
    for n in range(MAX_ACCOUNTS + 1):
        await recent.in_window(f"acct-{n}", T0, db)
    recent.created("acct-1")
    assert await recent.in_window("acct-1", T0, db) == 1
    assert await recent.in_window("acct-2", T0, db) == 0
    asked = db.asked
    await recent.in_window("acct-0", T0, db)  # the oldest, dropped to keep the bound on memory
    assert db.asked == asked + 1
