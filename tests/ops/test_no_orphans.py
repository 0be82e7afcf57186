"""A benchmark stopped by SIGTERM, or killed outright, leaves none of its service processes
running (they would stay in the consumer groups and hold their ports)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import ROOT
from tests.servers import Servers


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


async def _services_of(bench: subprocess.Popen[bytes], count: int = 4) -> set[int]:
    for _ in range(600):
        services = {
            pid
            for pid in _children(bench.pid)
            if b"services." in Path(f"/proc/{pid}/cmdline").read_bytes()
        }
        if len(services) >= count:
            return services
        assert bench.poll() is None, "the benchmark ended before its services started"
        await asyncio.sleep(0.1)
    raise AssertionError("the benchmark's services never started")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
async def test_an_interrupted_benchmark_leaves_no_service_running(
    servers: Servers, tmp_path: Path, stop: signal.Signals
) -> None:
    bench = subprocess.Popen(
        [sys.executable, "-m", "bench.pipeline", "-n", "400"],
        cwd=ROOT,
        env={**os.environ, **servers.env()},
        stdout=(tmp_path / "bench.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    services: set[int] = set()
    try:
        services = await _services_of(bench)
        await asyncio.sleep(2)  # mid-run
        bench.send_signal(stop)
        bench.wait(60)
        for _ in range(300):
            if not any(_alive(pid) for pid in services):
                break
            await asyncio.sleep(0.1)
        assert [pid for pid in services if _alive(pid)] == [], (tmp_path / "bench.log").read_text()
    finally:
        bench.kill()
        bench.wait()
        for pid in services:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
