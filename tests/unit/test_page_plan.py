"""Which way a tagged member's page is read, and how long the counts behind it are kept."""

from __future__ import annotations

from datetime import timedelta

from services.access_control.page_plan import KeptCounts, walk_is_cheaper
from services.runtime.clock import MovableClock


def test_a_member_who_sees_much_of_the_account_walks_it_and_one_who_sees_little_does_not() -> None:
    assert walk_is_cheaper(matching=5_000, clients=10_000, limit=101)
    assert walk_is_cheaper(matching=10_000, clients=10_000, limit=101)
    assert not walk_is_cheaper(matching=200, clients=10_000, limit=101)
    assert not walk_is_cheaper(matching=0, clients=10_000, limit=101)
    assert not walk_is_cheaper(matching=0, clients=0, limit=101)


def test_the_turning_point_grows_with_the_page_and_the_account() -> None:
    def least_walked(clients: int, limit: int) -> int:
        return next(m for m in range(1, clients + 1) if walk_is_cheaper(m, clients, limit))

    # walk the page over clients / matching each: cheaper once matching^2 > limit * clients / 2.3
    assert 650 <= least_walked(10_000, 101) <= 670
    assert least_walked(10_000, 1001) > least_walked(10_000, 101)
    assert least_walked(100_000, 101) > least_walked(10_000, 101)


async def test_a_count_is_kept_until_it_is_older_than_the_keeping_time() -> None:
    clock, calls = MovableClock(), []

    async def count() -> int:
        calls.append(1)
        return len(calls)

    counts = KeptCounts(clock, timedelta(seconds=60))
    assert await counts.get("a", count) == 1
    clock.advance(timedelta(seconds=59))
    assert await counts.get("a", count) == 1
    assert await counts.get("b", count) == 2
    clock.advance(timedelta(seconds=1))
    assert await counts.get("a", count) == 3


async def test_only_the_most_recently_used_counts_are_kept() -> None:
    counts, made = KeptCounts(MovableClock(), timedelta(hours=1), size=2), []

    def counting(key: str):  # type: ignore[no-untyped-def]
        async def count() -> int:
            made.append(key)
            return 0

        return count

    for key in ("a", "b", "a", "c", "a", "b"):
        await counts.get(key, counting(key))
    assert made == ["a", "b", "c", "b"]  # "b" was the least recently used when "c" came
