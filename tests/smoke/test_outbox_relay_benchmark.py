"""`bench/outbox_relay.py` runs against the real server and prints both rounds and their ratio
for each size (a benchmark nobody runs rots)."""

from __future__ import annotations

from tests.servers import Servers
from tests.smoke.benchmarks import run_benchmark


def test_the_outbox_relay_benchmark_prints_a_ratio_per_size(servers: Servers) -> None:
    out = run_benchmark(
        servers, "outbox_relay", "--sizes", "300,600", "--owed", "3", "--rounds", "4", timeout=120
    )
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["300"], ["600"])]
    assert [row[0] for row in rows] == ["300", "600"], out
    for row in rows:
        assert row[5].endswith("x"), row  # full sweep / owed-only, time
