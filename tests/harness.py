"""Run one service in this process against the real broker and Mongo server, with a gateway
that publishes as the contract says and taps on the topics it writes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer

from contracts.topics import dlq_topic
from services.runtime.clock import MovableClock
from services.runtime.service import Runtime
from tests.kafka_tools import Gateway, Tap, close_tap, open_tap, position_group_at_end
from tests.servers import Servers


@dataclass
class Running:
    service: Any  # the service's own dataclass (runtime, handlers, store)
    clock: MovableClock
    gateway: Gateway
    events: Tap
    dlq: Tap
    commands_topic: str
    unique: str

    def account(self, name: str = "a") -> str:
        return f"acct-{name}-{self.unique}"

    async def command(
        self,
        type_: str,
        account: str,
        data: dict[str, Any],
        actor: str | None = None,
        command_id: str | None = None,
    ) -> str:
        return await self.gateway.send(self.commands_topic, type_, account, data, actor, command_id)

    async def outcome(
        self, type_: str, account: str, data: dict[str, Any], actor: str | None = None
    ) -> dict[str, Any]:
        return await self.events.outcome_of(await self.command(type_, account, data, actor))

    async def rejection(
        self, type_: str, account: str, data: dict[str, Any], actor: str | None = None
    ) -> str:
        outcome = await self.outcome(type_, account, data, actor)
        assert outcome["type"] == "CommandRejected", outcome
        assert outcome["data"]["command_type"] == type_
        assert outcome["data"]["detail"]
        return str(outcome["data"]["reason"])


R = TypeVar("R", bound=Running)


def base_settings(servers: Servers, service: str, unique: str) -> dict[str, Any]:
    return {
        **{name.lower(): value for name, value in servers.kafka.env().items()},
        "mongodb_uri": servers.mongodb_uri,
        "mongodb_db": f"{service}_{unique}",
        "kafka_group_id": f"{service}-{unique}",
        "outbox_sweep_seconds": 1,
    }


@asynccontextmanager
async def running_service(
    servers: Servers,
    unique: str,
    build: Callable[[MovableClock], Any],
    group_id: str,
    consumes: list[str],
    commands_topic: str,
    events_topic: str,
    harness_class: type[R] = Running,  # type: ignore[assignment]
) -> AsyncIterator[R]:
    """Start `build(clock)` (returning an object with `.runtime`) from the topics' current end."""
    await position_group_at_end(servers.kafka, group_id, consumes)
    producer = AIOKafkaProducer(**servers.kafka.aiokafka(), acks="all")
    await producer.start()
    events = await open_tap(servers.kafka, events_topic)
    dlq = await open_tap(servers.kafka, dlq_topic(commands_topic))
    clock = MovableClock()
    service = build(clock)
    runtime: Runtime = service.runtime
    try:
        async with runtime.running():
            yield harness_class(
                service, clock, Gateway(producer), events, dlq, commands_topic, unique
            )
    finally:
        await close_tap(events)
        await close_tap(dlq)
        await producer.stop()
