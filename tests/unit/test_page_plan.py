"""Which way a tagged member's page is read, how long the counts behind it are kept, and the key
range a walk reads."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given
from hypothesis.strategies import from_regex

from contracts.common import ID_PATTERN
from services.access_control.page_plan import KeptCounts, walk_is_cheaper
from services.access_control.store import in_key_order, key
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

    def counting(name: str):  # type: ignore[no-untyped-def]
        async def count() -> int:
            made.append(name)
            return 0

        return count

    for name in ("a", "b", "a", "c", "a", "b"):
        await counts.get(name, counting(name))
    assert made == ["a", "b", "c", "b"]  # "b" was the least recently used when "c" came


@given(
    account=from_regex(ID_PATTERN, fullmatch=True),
    other=from_regex(ID_PATTERN, fullmatch=True),
    client=from_regex(ID_PATTERN, fullmatch=True),
)
def test_an_accounts_key_range_holds_its_own_keys_and_no_other_accounts(
    account: str, other: str, client: str
) -> None:
    bounds = in_key_order(account, None)["_id"]
    inside = bounds["$gt"] < key(account, client) < bounds["$lt"]
    assert inside
    assert account == other or not bounds["$gt"] < key(other, client) < bounds["$lt"]
