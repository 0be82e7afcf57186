"""Many equality look-ups as one query: which filters qualify, the combined filter, and each
look-up's answer picked out of the shared result."""

from __future__ import annotations

from services.runtime.lookups import answers, combined, is_equality


def test_only_plain_equality_on_top_level_fields_is_combined() -> None:
    assert is_equality({"slot": "pending|a|x@y"})
    assert is_equality({"account_id": "a", "version": 3})
    assert not is_equality({})
    assert not is_equality({"n": {"$gte": 1}})
    assert not is_equality({"a.b": "x"})
    assert not is_equality({"$or": [{"a": 1}]})
    assert not is_equality({"gone": None})  # None also matches a missing field
    assert not is_equality({"flag": True})  # True == 1 here, not on the server


def test_one_field_becomes_in_and_several_become_or() -> None:
    assert combined([{"slot": "b"}, {"slot": "a"}, {"slot": "b"}]) == {"slot": {"$in": ["a", "b"]}}
    two = [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    assert combined(two) == {"$or": two}


def test_each_filter_gets_its_own_document_and_repeats_get_copies() -> None:
    docs = [
        {"_id": 1, "a": "x", "b": "1"},
        {"_id": 2, "a": "x", "b": "2"},
        {"_id": 3, "a": ["y", "z"], "b": "1"},
    ]
    filters = [
        {"a": "x", "b": "2"},
        {"a": "z", "b": "1"},
        {"a": "x", "b": "3"},
        {"a": "x", "b": "2"},
    ]
    found = answers(filters, docs)
    assert [d and d["_id"] for d in found] == [2, 3, None, 2]
    assert found[0] is docs[1] and found[3] is not docs[1] and found[3] == docs[1]


def test_a_missing_field_matches_nothing() -> None:
    assert answers([{"a": "x"}], [{"_id": 1}, {"_id": 2, "a": "x"}])[0] == {"_id": 2, "a": "x"}
    assert answers([{"a": "x"}], [{"_id": 1}]) == [None]
