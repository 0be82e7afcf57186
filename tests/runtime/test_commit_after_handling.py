"""Offsets are committed only after the handler finished: kill -9 mid-handler -> redelivery,
even when later records of other accounts were handled (and could have been committed) meanwhile."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from tests.kafka_tools import create_topic
from tests.servers import Servers

ROOT = Path(__file__).resolve().parents[2]


def _spawn(topic: str, group: str, markers: Path, mode: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.slow_consumer", topic, group, str(markers), mode],
        cwd=ROOT,
        env=os.environ.copy(),
        start_new_session=True,
    )


async def _wait_for(path_glob: str, directory: Path, timeout: float = 60) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sorted(directory.glob(path_glob))
        if found:
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"nothing matched {path_glob} in {timeout}s")


async def test_a_message_whose_handler_was_killed_is_delivered_again(
    servers: Servers, unique: str, tmp_path: Path
) -> None:
    topic, group = f"commit-test.{unique}", f"commit-test-{unique}"
    await create_topic(servers.kafka, topic, partitions=1)
    producer = AIOKafkaProducer(**servers.kafka.aiokafka())
    await producer.start()
    await producer.send_and_wait(topic, b"precious", key=b"acct-1")  # offset 0
    for n in range(3):  # offsets 1-3: other accounts, handled while acct-1's record hangs
        await producer.send_and_wait(topic, b"other", key=f"acct-{n + 2}".encode())
    await producer.stop()

    first = _spawn(topic, group, tmp_path, "hang")
    try:
        await _wait_for("started-*", tmp_path)
        await _wait_for("handled-0-3", tmp_path)
        # Longer than aiokafka's auto-commit interval (5 s): an ack-first consumer would have
        # committed by now and the message would be lost.
        await asyncio.sleep(7)
        os.killpg(first.pid, signal.SIGKILL)  # dies inside the handler, before any commit
    finally:
        first.wait(10)

    second = _spawn(topic, group, tmp_path, "record")
    try:
        handled = await _wait_for("handled-0-0", tmp_path, timeout=90)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        second.wait(20)
    assert handled[0].read_bytes() == b"precious"
