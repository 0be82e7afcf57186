"""An account's members kept in memory between client changes: read once, kept up to date by
the member changes this instance commits, read again after a failure, a change of partitions,
or a minute."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from services.access_control.members_view import MembersView
from services.access_control.visibility import MemberFacts
from services.runtime.clock import MovableClock

ANN = MemberFacts("ann", True, frozenset({"practitioner"}), frozenset({"kids"}))
BOB = MemberFacts("bob", True, frozenset({"practitioner"}))


class Database:
    """The account's members as stored, counting the reads."""

    def __init__(self, *members: MemberFacts) -> None:
        self.members = {m.member_id: m for m in members}
        self.reads = 0

    async def read(self) -> list[MemberFacts]:
        self.reads += 1
        await asyncio.sleep(0)
        return list(self.members.values())

    def write(self, member: MemberFacts) -> None:
        self.members[member.member_id] = member


def ids(members: dict[str, MemberFacts]) -> dict[str, MemberFacts]:
    assert all(key == member.member_id for key, member in members.items())
    return members


async def test_an_account_is_read_once_and_then_kept_with_the_changes_written() -> None:
    view, db = MembersView(MovableClock()), Database(ANN)
    assert ids(await view.of("a", db.read)) == {"ann": ANN}
    retagged = MemberFacts("ann", True, frozenset({"practitioner"}), frozenset({"sport"}))
    db.write(retagged)
    view.changed("a", retagged)
    db.write(BOB)
    view.changed("a", BOB)
    assert ids(await view.of("a", db.read)) == {"ann": retagged, "bob": BOB}
    assert db.reads == 1


async def test_a_change_to_an_account_not_kept_keeps_nothing() -> None:
    view, db = MembersView(MovableClock()), Database(ANN)
    view.changed("a", BOB)
    db.write(BOB)
    assert ids(await view.of("a", db.read)) == {"ann": ANN, "bob": BOB}  # read, not made up
    assert db.reads == 1


async def test_forgetting_an_account_or_all_reads_again() -> None:
    view, db = MembersView(MovableClock()), Database(ANN)
    await view.of("a", db.read)
    await view.of("b", db.read)
    view.forget("a")
    await view.of("a", db.read)
    await view.of("b", db.read)
    assert db.reads == 3
    view.forget_all()
    await view.of("a", db.read)
    await view.of("b", db.read)
    assert db.reads == 5


async def test_members_are_trusted_for_a_minute_from_the_read() -> None:
    clock = MovableClock()
    view, db = MembersView(clock, kept=timedelta(minutes=1)), Database(ANN)
    await view.of("a", db.read)
    clock.advance(timedelta(seconds=59))
    await view.of("a", db.read)
    assert db.reads == 1
    clock.advance(timedelta(seconds=1))
    db.write(BOB)  # written elsewhere: an instance that lost the account without knowing it
    assert ids(await view.of("a", db.read)) == {"ann": ANN, "bob": BOB}
    assert db.reads == 2


@pytest.mark.parametrize("interruption", ["changed", "forget", "forget_all"])
async def test_a_read_under_way_when_the_account_changes_is_not_kept(interruption: str) -> None:
    view, db = MembersView(MovableClock()), Database(ANN)
    started, finish = asyncio.Event(), asyncio.Event()

    async def slow_read() -> list[MemberFacts]:
        members = await db.read()  # what the database held when the read ran
        started.set()
        await finish.wait()
        return members

    reading = asyncio.create_task(view.of("a", slow_read))
    await started.wait()
    db.write(BOB)
    if interruption == "changed":
        view.changed("a", BOB)
    elif interruption == "forget":
        view.forget("a")
    else:
        view.forget_all()
    finish.set()
    assert ids(await reading) == {"ann": ANN}  # its caller decided before the change
    assert ids(await view.of("a", db.read)) == {"ann": ANN, "bob": BOB}
    assert db.reads == 2


async def test_a_failed_read_keeps_nothing() -> None:
    view, db = MembersView(MovableClock()), Database(ANN)

    async def failing() -> list[MemberFacts]:
        raise ConnectionError("database gone")

    with pytest.raises(ConnectionError):
        await view.of("a", failing)
    assert ids(await view.of("a", db.read)) == {"ann": ANN}
    await view.of("a", db.read)
    assert db.reads == 1


async def test_the_least_recently_used_accounts_go_when_too_many_members_are_held() -> None:
    view = MembersView(MovableClock(), max_members=3)
    a, b, c = Database(ANN, BOB), Database(ANN), Database(ANN)
    await view.of("a", a.read)  # 2 held
    await view.of("b", b.read)  # 3 held
    await view.of("a", a.read)  # a used last
    await view.of("c", c.read)  # 4: b goes
    await view.of("a", a.read)
    await view.of("c", c.read)
    await view.of("b", b.read)  # read again: a goes (least recently used)
    assert (a.reads, b.reads, c.reads) == (1, 2, 1)
    await view.of("a", a.read)
    assert a.reads == 2
    huge = Database(*(MemberFacts(f"m{i}") for i in range(4)))
    await view.of("huge", huge.read)
    await view.of("huge", huge.read)
    assert huge.reads == 2  # more than the bound: never kept
    view.changed("a", MemberFacts("carl"))
    view.changed("a", MemberFacts("dina"))  # a grows past the bound: it goes
    await view.of("a", a.read)
    assert a.reads == 3
