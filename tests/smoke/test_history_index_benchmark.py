"""`bench/history_index.py` runs against the real server and prints each way of indexing the
history with its ratios against the service's indexes (a benchmark nobody runs rots)."""

from __future__ import annotations

from typing import Any

import pytest

from bench import history_index
from tests.servers import Servers
from tests.smoke.benchmarks import run_benchmark

WAYS = ("the service's indexes", "without the clients index", "composite-term indexes")


def test_the_history_index_benchmark_prints_each_way_and_its_ratios(servers: Servers) -> None:
    out = run_benchmark(
        servers, "history_index", "--ids", "40", "--existing", "300", "--inserts", "10", timeout=120
    )
    lines = out.splitlines()
    measured = 0
    for way in WAYS:
        row = next((line for line in lines if line.startswith(way)), None)
        assert row is not None, out
        if way == WAYS[2] and "not made by this server" in row:
            continue  # an option of DocumentDB's: MongoDB (the Docker path) refuses it
        insert_ms, cpu_ms, _wal, query_ms = row[len(way) :].split()
        assert float(insert_ms) > 0 and float(query_ms) > 0 and float(cpu_ms) >= 0, row
        measured += 1
    ratios = [line.split() for line in lines if line.startswith("  ") and "insert" in line]
    assert len(ratios) == measured - 1, out
    for ratio in ratios:
        assert ratio[-4].endswith("x") and ratio[-1].endswith("x"), ratio  # insert, query
    assert any(line.startswith("the clients index costs about") for line in lines), out


async def test_a_server_that_refuses_an_index_option_is_named_and_that_way_skipped(
    servers: Servers, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """MongoDB (the Docker path) refuses `enableOrderedIndex`; an option every server refuses
    takes that path here."""
    made_by_the_service = history_index.specifications

    def refused_option(ordered: bool, with_clients: bool) -> list[dict[str, Any]]:
        specifications = made_by_the_service(ordered, with_clients)
        if ordered:
            for specification in specifications:
                specification["noSuchIndexOption"] = specification.pop("enableOrderedIndex")
        return specifications

    monkeypatch.setattr(history_index, "specifications", refused_option)
    monkeypatch.setenv("MONGODB_URI", servers.mongodb_uri)
    await history_index.main(ids=20, existing=100, inserts=10)
    out = capsys.readouterr().out
    assert f"{WAYS[2]:28} not made by this server: " in out and "noSuchIndexOption" in out, out
    ratios = [line for line in out.splitlines() if line.startswith("  ") and "insert" in line]
    assert len(ratios) == 1 and ratios[0].split()[:4] == WAYS[1].split(), out
