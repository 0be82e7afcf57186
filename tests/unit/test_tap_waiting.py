"""The tests' and benchmarks' tap: waiting for events tests each record once, however long the
wait, and still sees the records that arrive during it. A benchmark's load generator waits for
thousands of events on the machine it measures; testing every record again every 50 ms took a
tenth of its CPU."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.kafka_tools import Tap


def tap_with(*types: str) -> Tap:
    tap = Tap(consumer=None)  # type: ignore[arg-type]  # records are added by hand here
    for type_ in types:
        tap._parsed.append({"type": type_})
    return tap


async def test_records_arriving_during_the_wait_are_matched_and_each_is_tested_once() -> None:
    tap = tap_with("A", "B")
    tested: list[str] = []

    def is_b(event: dict[str, Any]) -> bool:
        tested.append(event["type"])
        return bool(event["type"] == "B")

    async def arrive() -> None:
        for type_ in ("C", "B", "B"):
            await asyncio.sleep(0.12)  # a few of the wait's 50 ms rounds go by in between
            tap._parsed.append({"type": type_})

    arriving = asyncio.create_task(arrive())
    found = await tap.wait_for(is_b, timeout=5, count=3)
    await arriving
    assert [e["type"] for e in found] == ["B", "B", "B"]
    assert tested == ["A", "B", "C", "B", "B"]


async def test_too_few_matches_by_the_deadline_name_what_was_seen() -> None:
    tap = tap_with("A")
    seen = r"waited 0\.2s for 1 matching events; saw \[\('A', None\)\]"
    with pytest.raises(AssertionError, match=seen):
        await tap.wait_for(lambda e: e["type"] == "B", timeout=0.2)
