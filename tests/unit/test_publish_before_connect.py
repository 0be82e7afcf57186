"""The outbox publishes straight to the aiokafka producer behind the FastStream broker: before
the broker is connected that fails at once, with FastStream's own message, not a hang."""

from __future__ import annotations

import pytest
from faststream.exceptions import IncorrectState

from services.runtime.kafka import make_broker, publish_all
from services.runtime.kafka_access import KafkaAccess


async def test_publishing_before_the_broker_is_connected_fails_at_once() -> None:
    broker = make_broker(KafkaAccess("127.0.0.1:1"), "never-connected")
    with pytest.raises(IncorrectState, match="connect broker first"):
        await publish_all(broker, [("any.topic", "acct-1", b"{}", None)])
