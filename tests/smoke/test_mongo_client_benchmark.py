"""`bench/mongo_client.py` reads the same document three ways against the real server (its
minimal client authenticating as the services do) and prints a ratio for each pymongo way."""

from __future__ import annotations

import re

from tests.servers import Servers
from tests.smoke.benchmarks import run_benchmark

WAYS = ("pymongo find_one", "pymongo database.command(find)", "minimal OP_MSG client")


def test_the_mongo_client_benchmark_prints_each_way_and_ratio(servers: Servers) -> None:
    out = run_benchmark(servers, "mongo_client", "--requests", "300", "--rounds", "1", timeout=120)
    rows = {way: line for line in out.splitlines() for way in WAYS if line.startswith(way)}
    assert set(rows) == set(WAYS), out
    for way, row in rows.items():
        cpu_us, wall_ms = (float(n) for n in row[len(way) :].split())
        assert cpu_us > 0 and wall_ms > 0, row
    ratios = re.findall(r"= +([\d.]+)x CPU, +([\d.]+)x wall", out)
    assert len(ratios) == 2, out
    assert all(float(cpu) > 0 and float(wall) > 0 for cpu, wall in ratios), out
