"""The start-up check of topics read together: equal partition counts, or a reason that names
each topic's count."""

from __future__ import annotations

from services.runtime.startup import unequal_partitions


def test_equal_counts_or_no_group_pass() -> None:
    assert unequal_partitions({"a": 6, "b": 6, "c": 3}, [["a", "b"]]) is None
    assert unequal_partitions({"a": 6, "c": 3}, []) is None


def test_a_different_count_or_a_missing_topic_is_named() -> None:
    reason = unequal_partitions({"a": 6, "b": 6, "c": 3}, [["a", "b"], ["b", "c"]])
    assert reason is not None and "b has 6, c has 3" in reason
    missing = unequal_partitions({"a": 6}, [["a", "gone"]])
    assert missing is not None and "a has 6, gone has no" in missing
