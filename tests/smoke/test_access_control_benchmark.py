"""`bench/access_control.py` runs against the real servers on a small account and prints every
ratio it exists for (a benchmark nobody runs rots)."""

from __future__ import annotations

import re

from tests.servers import Servers
from tests.smoke.benchmarks import run_benchmark


def test_the_access_control_benchmark_prints_each_ratio(servers: Servers) -> None:
    small = ("--clients", "200", "--members", "40", "--tags", "10", "--repeat", "2")
    out = run_benchmark(servers, "access_control", *small, "--warmup", "3", timeout=240)
    assert re.search(r"warm-up: 3 rounds in \d+\.\d s", out), out
    # the member whose pages are read holds half of the tags: half of the clients
    assert "member m039 sees 100 clients" in out, out
    for change in ("one client's tags", "one member's tags", "least I/O of a durable change"):
        assert re.search(rf"full recompute / {change}.*= +\d+\.\dx wall, +\d+\.\dx CPU", out), out
    pages = (
        "query page / plain page read",
        "query page / plain read in key order",
        "administrator's page / the same",
    )
    for page in pages:
        for q in ("p50", "p99"):
            assert re.search(rf"{page} \({q}\) = +\d+\.\d+x", out), out
    for answer in ("who sees a client", "check of"):  # also against the documents they need
        assert re.search(rf"{answer}.*ms +\d+\.\d+x +\| +\d+\.\d+x", out), out
    assert re.search(r"history of one client.*ms +\d+\.\d+x +\| \(the same query\)", out), out
    assert "access matrix: " in out, out
