"""`bench/email_writing.py` runs and prints each way's time and its ratio to the wire writer
(a benchmark nobody runs rots); it needs no server."""

from __future__ import annotations

import subprocess
import sys


def test_the_email_writing_benchmark_prints_the_ratios() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.email_writing", "--emails", "20", "--rounds", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    ratios = [line for line in done.stdout.splitlines() if " / wire = " in line]
    assert len(ratios) == 2, done.stdout
    assert all(line.endswith("x") for line in ratios), ratios
