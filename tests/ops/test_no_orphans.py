"""A benchmark stopped by SIGTERM, or killed outright, and a demo interrupted or orphaned, leave
none of their service processes running (they would stay in the consumer groups and hold their
ports). The e2e harness's services die with it the same way (`PR_SET_PDEATHSIG`), which the
benchmark's SIGKILL case proves for `tests/processes.py`."""

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
        # an interrupted run keeps its services' logs: in the test's directory, not /tmp
        env={**os.environ, **servers.env(), "TMPDIR": str(tmp_path)},
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


def _demo_command() -> list[str]:
    return [sys.executable, "-m", "demo"]


@pytest.mark.parametrize("stop", ["sigterm", "parent dies"])
async def test_an_interrupted_demo_stops_the_services_it_started_and_leaves_the_stack(
    servers: Servers, tmp_path: Path, stop: str
) -> None:
    """The demo on a stack that was already up: interrupted (SIGTERM, or its parent killed), it
    stops the four services it started and leaves the servers it found running."""
    from demo.processes import SERVICES, healthy
    from stack import config
    from stack import servers as stack_servers

    cfg = config.load()
    log = (tmp_path / "demo.log").open("wb")
    env = {**os.environ, **servers.env()}
    if stop == "parent dies":  # a parent that only waits for the demo, then is killed
        wrapper = "import subprocess, sys; subprocess.Popen(sys.argv[1:]).wait()"
        parent = subprocess.Popen(
            [sys.executable, "-c", wrapper, *_demo_command()],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    else:
        parent = subprocess.Popen(
            _demo_command(), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    services: set[int] = set()
    demo: int | None = None
    try:
        for _ in range(600):
            demo = parent.pid if stop == "sigterm" else next(iter(_children(parent.pid)), None)
            if demo is not None and len(found := await _services_of_pid(demo)) == 4:
                services = found
                break
            await asyncio.sleep(0.1)
        assert len(services) == 4, (tmp_path / "demo.log").read_text()
        for _ in range(600):  # interrupted mid-run, once its services answer
            if all(healthy(port) for port in SERVICES.values()):
                break
            await asyncio.sleep(0.1)
        assert all(healthy(port) for port in SERVICES.values()), (tmp_path / "demo.log").read_text()
        if stop == "sigterm":
            parent.send_signal(signal.SIGTERM)
        else:
            parent.kill()
        for _ in range(600):
            if not any(_alive(pid) for pid in services):
                break
            await asyncio.sleep(0.1)
        assert [pid for pid in services if _alive(pid)] == [], (tmp_path / "demo.log").read_text()
        assert all(stack_servers.running_pid(cfg, name) for name in stack_servers.SERVERS)
    finally:
        parent.kill()
        parent.wait()
        for pid in [*services, *([demo] if demo else [])]:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


async def _services_of_pid(pid: int) -> set[int]:
    found = set()
    for child in _children(pid):
        try:
            if b"services." in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(child)
        except OSError:
            continue
    return found
