"""`bench/storage.py` runs against the real server and prints a ratio for every kind of call
it compares (a benchmark nobody runs rots)."""

from __future__ import annotations

from tests.servers import Servers
from tests.smoke.benchmarks import run_benchmark


def test_the_storage_benchmark_prints_each_ratio(servers: Servers) -> None:
    out = run_benchmark(servers, "storage", "--callers", "4", "--rounds", "3", timeout=120)
    rows = {line.split("  ")[0]: line for line in out.splitlines()}
    for kind in (
        "insert",
        "look-up by id",
        "compare-and-set replace",
        "compare-and-set field update",
    ):
        assert kind in rows, out
        assert "x" in rows[kind].split()[-2], rows[kind]  # the time ratio
