"""The demo's mail server: a second Mailpit in front of which only the story's own domains
are deliverable, so an invitation to `...@bounce.example` is refused with a 5xx, as a real
mail server refuses a dead address (the stack's own Mailpit accepts everything)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request

from stack import provision
from stack.config import StackConfig

DELIVERABLE = r"@(sunrise\.example|example\.com)$"
BOUNCING_ADDRESS = "old.colleague@bounce.example"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _pid_file(cfg: StackConfig) -> os.PathLike[str]:
    return cfg.data_dir / "run" / "demo-mailpit.pid"


def start(cfg: StackConfig) -> tuple[int, str]:
    """(SMTP port, web UI address) of a fresh bouncing Mailpit."""
    smtp, http = _free_port(), _free_port()
    (cfg.data_dir / "run").mkdir(parents=True, exist_ok=True)
    log = (cfg.data_dir / "logs" / "demo-mailpit.log").open("ab")
    process = subprocess.Popen(
        [
            str(provision.mailpit(cfg)),
            f"--smtp=127.0.0.1:{smtp}",
            f"--listen=127.0.0.1:{http}",
            f"--database={cfg.data_dir / 'demo-mailpit.db'}",
            "--disable-version-check",
            "--smtp-disable-rdns",
            "--smtp-allowed-recipients",
            DELIVERABLE,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    with open(_pid_file(cfg), "w") as pid:
        pid.write(str(process.pid))
    url = f"http://127.0.0.1:{http}"
    for _ in range(100):
        with contextlib.suppress(OSError):
            urllib.request.urlopen(f"{url}/api/v1/info", timeout=1).close()  # noqa: S310 - local
            return smtp, url
        time.sleep(0.1)
    raise SystemExit(f"the demo's Mailpit did not start (see {log.name})")


def stop(cfg: StackConfig) -> None:
    path = _pid_file(cfg)
    with contextlib.suppress(OSError, ValueError):
        with open(path) as pid:
            os.kill(int(pid.read()), signal.SIGTERM)
        os.unlink(path)
