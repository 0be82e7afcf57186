"""With no servers named, no local stack answering and no Docker engine, the suite fails at
once with one message naming both ways (it never passes by skipping)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_without_servers_the_run_fails_with_one_clear_message(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI", "SMTP_HOST", "SMTP_PORT", "MAILPIT_URL")
    }
    env.update(
        STACK_KAFKA_PORT="1",
        STACK_MONGO_PORT="2",
        STACK_SMTP_PORT="3",
        STACK_MAILPIT_HTTP_PORT="4",
        DOCKER_HOST="unix:///nonexistent/docker.sock",
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/smoke", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "No Kafka/MongoDB/SMTP servers to test against" in output
    assert "make stack-up" in output and "Docker engine" in output
    assert " passed" not in output
