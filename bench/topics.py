"""A Kafka topic of a measurement's own, deleted when it is done."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from services.runtime.kafka_access import KafkaAccess
from tests.kafka_tools import create_topic, delete_topic


@contextlib.asynccontextmanager
async def scratch_topic(access: KafkaAccess, prefix: str, partitions: int) -> AsyncIterator[str]:
    """`prefix.<random>`, created with `partitions` and deleted afterwards (each run would
    otherwise leave its topics in the broker)."""
    topic = f"{prefix}.{uuid.uuid4().hex[:8]}"
    await create_topic(access, topic, partitions)
    try:
        yield topic
    finally:
        await delete_topic(access, topic)
