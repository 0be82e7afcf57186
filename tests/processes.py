"""Run a service as its own OS process (python -m services.<name>), as production does."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from stack.children import die_with_parent

ROOT = Path(__file__).resolve().parents[1]


_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_port() -> int:
    """A port for a server to listen on, that nothing takes before it does: below the kernel's
    ephemeral range (where every outgoing connection gets its local port, and where bind(0)
    picks, so a port found that way can be taken by a Kafka or database client a moment later:
    CI saw a service fail with "address already in use"), never handed out twice in this
    process, and free now."""
    low = _ephemeral_low()
    candidates = list(range(max(1024, low - 12_000), low))
    random.shuffle(candidates)
    for port in candidates:
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port below the ephemeral range ({low})")


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    module: str = ""  # default: services.<name>

    @property
    def port(self) -> int:
        return int(self.env["HTTP_PORT"])

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module or f"services.{self.name}"],
            cwd=ROOT,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=die_with_parent,  # no orphan when the test run or a benchmark dies
        )

    async def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited: {self.log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise AssertionError(
            f"{self.name} not ready in {timeout}s: {self.log_path.read_text()[-3000:]}"
        )

    async def wait_exit(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name} still running after {timeout}s")
            await asyncio.sleep(0.1)
        return self.process.returncode

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            self.process.wait(30)

    def stop(self) -> None:
        self.kill(signal.SIGTERM)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")
