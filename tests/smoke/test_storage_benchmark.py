"""`bench/storage.py` runs against the real server and prints a ratio for every kind of call
it compares (a benchmark nobody runs rots)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.servers import Servers


def test_the_storage_benchmark_prints_each_ratio(servers: Servers) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.storage", "--callers", "4", "--rounds", "3"],
        env={**os.environ, **servers.env()},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = {line.split("  ")[0]: line for line in done.stdout.splitlines()}
    for kind in (
        "insert",
        "look-up by id",
        "compare-and-set replace",
        "compare-and-set field update",
    ):
        assert kind in rows, done.stdout
        assert "x" in rows[kind].split()[-2], rows[kind]  # the time ratio
