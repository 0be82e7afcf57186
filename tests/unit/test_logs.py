"""Every line a service writes is one JSON object, the framework's lines included, and no
accept token reaches a line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from services.runtime import logs


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    logs.configure("svc", "DEBUG", stream)
    yield stream
    root.handlers[:], root.level = handlers, level


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_frameworks_lines_are_json_like_ours(written: io.StringIO) -> None:
    logging.getLogger("faststream.broker").info("Consumer assigned to partitions")
    logging.getLogger("faststream").warning("Auto create topics is disabled")
    logging.getLogger("services.x").info("published %s", "InvitationCreated")
    assert [(e["service"], e["logger"], e["message"]) for e in lines(written)] == [
        ("svc", "faststream.broker", "Consumer assigned to partitions"),
        ("svc", "faststream", "Auto create topics is disabled"),
        ("svc", "services.x", "published InvitationCreated"),
    ]


def test_per_message_lines_of_the_framework_only_at_debug() -> None:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    for configured, shown in (("INFO", []), ("DEBUG", ["Received"])):
        stream = io.StringIO()
        logs.configure("svc", configured, stream)
        logging.getLogger("faststream.broker").debug("Received")  # the broker's log_level
        assert [e["message"] for e in lines(stream)] == shown
    root.handlers[:], root.level = handlers, level


def test_tokens_are_redacted(written: io.StringIO) -> None:
    logging.getLogger("services.x").warning("GET /accept?token=abc123 {'accept_token': 'xyz'}")
    [entry] = lines(written)
    assert "abc123" not in str(entry) and "xyz" not in str(entry)
