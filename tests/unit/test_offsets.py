"""The offset to commit never passes a record that is not finished, whatever the finish order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.runtime.offsets import OffsetBook

P = ("invitations.commands", 0)
Q = ("invitations.commands", 1)


def test_the_commit_stops_at_the_lowest_unfinished_record() -> None:
    book = OffsetBook()
    for offset in (10, 11, 12, 13):
        assert book.receive(P, offset)
    book.finish(P, 11)
    book.finish(P, 13)
    assert book.to_commit() == {}  # 10 still runs: nothing may be committed
    book.finish(P, 10)
    assert book.to_commit() == {P: 12}  # 12 is the first not finished
    book.committed({P: 12})
    assert book.to_commit() == {}  # nothing new
    book.finish(P, 12)
    assert book.to_commit() == {P: 14}


def test_partitions_are_kept_apart_and_forgotten_on_request() -> None:
    book = OffsetBook()
    book.receive(P, 0)
    book.receive(Q, 5)
    book.finish(Q, 5)
    assert book.to_commit() == {Q: 6}
    book.forget([Q])
    book.finish(Q, 5)  # a late finish of a forgotten partition notes nothing
    assert book.to_commit() == {}
    assert book.partitions() == {P}


def test_a_record_read_again_is_not_taken_twice() -> None:
    book = OffsetBook()
    assert book.receive(P, 3)
    assert book.receive(P, 4)
    book.finish(P, 3)
    assert not book.receive(P, 3)  # finished
    assert not book.receive(P, 4)  # still running
    assert book.receive(P, 7)  # gaps are allowed (offsets of a partition need not be dense)
    assert book.unfinished(P) == 2


@given(st.permutations(list(range(30))), st.integers(min_value=0, max_value=1000))
def test_in_any_finish_order_the_commit_is_the_lowest_unfinished(
    order: list[int], base: int
) -> None:
    book = OffsetBook()
    offsets = [base + 2 * n for n in range(30)]  # with gaps
    for offset in offsets:
        book.receive(P, offset)
    finished: set[int] = set()
    for index in order:
        book.finish(P, offsets[index])
        finished.add(offsets[index])
        unfinished = [o for o in offsets if o not in finished]
        committable = book.to_commit().get(P)
        if unfinished and unfinished[0] == offsets[0]:
            assert committable is None
        elif unfinished:
            assert committable == unfinished[0] - 1  # one past the finished record before it
            assert all(o in finished for o in offsets if o < committable)
        else:
            assert committable == offsets[-1] + 1
