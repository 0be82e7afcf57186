"""The four services and the reference web gateway as background processes for the demo (pid
files next to the stack's)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from stack.config import REPO, StackConfig

SERVICES = {"invitations": 8101, "membership": 8102, "notifications": 8103, "access_control": 8104}
GATEWAY_PORT = 8080  # the notifications service's default ACCEPT_URL_BASE points here
PROCESSES = {**SERVICES, "gateway": GATEWAY_PORT}


def module_of(name: str) -> str:
    return "gateway" if name == "gateway" else f"services.{name}"


def _pid_file(cfg: StackConfig, name: str) -> Path:
    return cfg.data_dir / "run" / f"service-{name}.pid"


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start_all(cfg: StackConfig, envs: dict[str, dict[str, str]], started: list[str]) -> None:
    """Start each process named in `envs` with its environment (its own broker principal); the
    names of those it starts (not those found running) go into `started` at once, so an
    interruption mid-way still knows them."""
    (cfg.data_dir / "run").mkdir(parents=True, exist_ok=True)
    (cfg.data_dir / "logs").mkdir(parents=True, exist_ok=True)
    for name in envs:
        port = PROCESSES[name]
        if healthy(port):
            print(f"  {name:15} already running on :{port}")
            continue
        log = (cfg.data_dir / "logs" / f"service-{name}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", module_of(name)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **envs[name], "HTTP_PORT": str(port)},
        )
        _pid_file(cfg, name).write_text(str(process.pid))
        started.append(name)
        print(f"  {name:15} started (pid {process.pid}) on :{port}, log {log.name}")
    deadline = time.monotonic() + 90
    for name in envs:
        while not healthy(PROCESSES[name]):
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"{name} did not become ready; see {cfg.data_dir}/logs/service-{name}.log"
                )
            time.sleep(0.3)


def stop_all(cfg: StackConfig, names: list[str] | None = None) -> None:
    for name in PROCESSES if names is None else names:
        path = _pid_file(cfg, name)
        if not path.exists():
            continue
        try:
            os.killpg(int(path.read_text()), signal.SIGTERM)
            print(f"  {name:15} stopped")
        except (ProcessLookupError, ValueError):
            pass
        path.unlink(missing_ok=True)
