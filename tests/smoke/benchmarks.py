"""Running a benchmark module against the test servers (a benchmark nobody runs rots)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.servers import Servers


def run_benchmark(servers: Servers, module: str, *args: str, timeout: float) -> str:
    """`python -m bench.<module> args` with the servers' settings; its output, or the test fails
    with the benchmark's error output."""
    done = subprocess.run(
        [sys.executable, "-m", f"bench.{module}", *args],
        env={**os.environ, **servers.env()},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
