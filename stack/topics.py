"""Create every topic of the contract and its DLQ on the local broker."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from contracts.topics import PARTITIONS, all_topics
from services.runtime.kafka_access import KafkaAccess


async def ensure_topics(access: KafkaAccess) -> list[str]:
    """Create the missing topics; returns those it created."""
    admin = AIOKafkaAdminClient(**access.aiokafka(), request_timeout_ms=10000)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in all_topics() if t not in existing]
        if missing:
            await admin.create_topics(
                [NewTopic(t, num_partitions=PARTITIONS, replication_factor=1) for t in missing]
            )
        return missing
    finally:
        await admin.close()


def create_all(access: KafkaAccess) -> list[str]:
    return asyncio.run(ensure_topics(access))
