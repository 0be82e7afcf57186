"""The documents a process wrote, kept for the next change of the same aggregate."""

from __future__ import annotations

from services.runtime.collection import Document
from services.runtime.kept_documents import KeptDocuments


def doc(key: str, outcomes: int = 0, version: int = 1) -> Document:
    return {
        "_id": key,
        "version": version,
        "outcomes": [{"cause": str(n)} for n in range(outcomes)],
    }


def test_the_last_write_of_a_document_is_what_is_kept() -> None:
    kept = KeptDocuments()
    kept.keep("a", doc("a", version=2))
    kept.keep("a", doc("a", version=3))
    assert kept.get("a") == doc("a", version=3) and len(kept) == 1
    assert kept.get("b") is None


def test_forgetting_one_or_all() -> None:
    kept = KeptDocuments()
    for key in "abc":
        kept.keep(key, doc(key))
    kept.forget("b")
    kept.forget("nothing")
    assert [kept.get(k) is not None for k in "abc"] == [True, False, True]
    kept.forget_all()
    assert len(kept) == 0 and kept.get("a") is None


def test_the_least_recently_used_go_first_when_their_weight_is_over_the_bound() -> None:
    """A document weighs one, plus one per remembered command outcome (the bulk of a large
    document)."""
    kept = KeptDocuments(max_weight=10)
    kept.keep("a", doc("a", outcomes=3))  # 4
    kept.keep("b", doc("b", outcomes=3))  # 8
    assert kept.get("a") is not None  # a is now the more recently used
    kept.keep("c", doc("c", outcomes=1))  # 10: all fit
    assert len(kept) == 3
    kept.keep("d", doc("d"))  # 11: b goes
    assert [kept.get(k) is not None for k in "abcd"] == [True, False, True, True]
    kept.keep("a", doc("a"))  # a lighter a: 1 + 2 + 1 = 4
    kept.keep("e", doc("e", outcomes=5))  # 10
    assert len(kept) == 4
    kept.forget_all()
    kept.keep("huge", doc("huge", outcomes=20))  # heavier than the bound alone: not kept
    assert len(kept) == 0
