"""`bench/history_index.py` runs against the real server and prints each way of indexing the
history with its ratios against the service's indexes (a benchmark nobody runs rots)."""

from __future__ import annotations

from tests.servers import Servers
from tests.smoke.benchmarks import run_benchmark

WAYS = ("the service's indexes", "without the clients index", "composite-term indexes")


def test_the_history_index_benchmark_prints_each_way_and_its_ratios(servers: Servers) -> None:
    out = run_benchmark(
        servers, "history_index", "--ids", "40", "--existing", "300", "--inserts", "10", timeout=120
    )
    lines = out.splitlines()
    for way in WAYS:
        row = next((line for line in lines if line.startswith(way)), None)
        assert row is not None, out
        insert_ms, cpu_ms, _wal, query_ms = row[len(way) :].split()
        assert float(insert_ms) > 0 and float(query_ms) > 0 and float(cpu_ms) >= 0, row
    ratios = [line.split() for line in lines if line.startswith("  ") and "insert" in line]
    assert len(ratios) == 2, out
    for ratio in ratios:
        assert ratio[-4].endswith("x") and ratio[-1].endswith("x"), ratio  # insert, query
    assert any(line.startswith("the clients index costs about") for line in lines), out
