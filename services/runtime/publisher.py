"""Where records go once decided: Kafka (acks=all) in a service, a list in handler tests."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from faststream.kafka import KafkaBroker

from services.runtime.kafka import publish_all


@dataclass(frozen=True)
class Record:
    topic: str
    key: bytes | None
    value: bytes
    correlation_id: str | None = None
    headers: dict[str, str] | None = None  # replaces the default content-type headers


class Publisher(Protocol):
    async def publish(self, records: Sequence[Record]) -> None:
        """Every record acknowledged, records with the same key in order; or an exception."""
        ...


class KafkaPublisher:
    def __init__(self, broker: KafkaBroker) -> None:
        self.broker = broker

    async def publish(self, records: Sequence[Record]) -> None:
        plain = [r for r in records if r.headers is None]
        if plain:
            await publish_all(
                self.broker,
                [(r.topic, (r.key or b"").decode(), r.value, r.correlation_id) for r in plain],
            )
        for record in records:
            if record.headers is not None:
                await self.broker.publish(
                    record.value, record.topic, key=record.key, headers=record.headers
                )


@dataclass
class MemoryPublisher:
    """Keeps what was published, in order (handler tests)."""

    records: list[Record] = field(default_factory=list)

    async def publish(self, records: Sequence[Record]) -> None:
        self.records.extend(records)

    def messages(self, topic: str) -> list[dict[str, Any]]:
        return [json.loads(r.value) for r in self.records if r.topic == topic]
