"""A service wired over the in-memory unit of work: records go in through the same pipeline
the Kafka subscriber feeds (parse, dispatch, reject, dead-letter), what it publishes is kept
in order. No server, no sleeping: the clock is moved by hand."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Generic, TypeVar

from contracts.common import format_time
from contracts.envelope import new_id
from contracts.topics import dlq_topic
from services.runtime.clock import MovableClock
from services.runtime.dlq import Origin
from services.runtime.publisher import MemoryPublisher, Record
from services.runtime.service import Runtime, memory_runtime
from services.runtime.settings import ServiceSettings

S = TypeVar("S")


@dataclass
class InMemory(Generic[S]):
    service: S
    runtime: Runtime
    clock: MovableClock
    events_topic: str
    commands_topic: str | None
    _offset: int = field(default=0)

    @property
    def publisher(self) -> MemoryPublisher:
        assert isinstance(self.runtime.publisher, MemoryPublisher)
        return self.runtime.publisher

    async def raw(self, topic: str, value: bytes | None, key: bytes | None = b"acct-1") -> None:
        self._offset += 1
        await self.runtime.pipelines[topic].handle(value, Origin(topic, 0, self._offset, key))

    async def send(
        self,
        type_: str,
        data: dict[str, Any],
        *,
        topic: str | None = None,
        account: str = "acct-1",
        actor: str | None = "owner-1",
        message_id: str | None = None,
        age: timedelta = timedelta(),
    ) -> str:
        """A command (or, with `topic`, another service's event); returns its id."""
        topic = topic or self.commands_topic
        assert topic is not None
        message_id = message_id or new_id()
        envelope: dict[str, Any] = {
            "specversion": "1.0",
            "id": message_id,
            "source": "/gateway",
            "type": type_,
            "time": format_time(self.clock.now() - age),
            "accountid": account,
            "data": data,
        }
        if actor is not None:
            envelope["actorid"] = actor
        await self.raw(topic, json.dumps(envelope).encode(), account.encode())
        return message_id

    def published(self, topic: str | None = None) -> list[dict[str, Any]]:
        return self.publisher.messages(topic or self.events_topic)

    def caused_by(self, message_id: str, topic: str | None = None) -> list[dict[str, Any]]:
        """What the message caused, each event once (as a consumer that drops repeated ids
        sees it: a redelivered command's outcome is published again with its id)."""
        seen: set[str] = set()
        caused = []
        for event in self.published(topic):
            if event.get("causationid") == message_id and event["id"] not in seen:
                seen.add(event["id"])
                caused.append(event)
        return caused

    def outcome(self, message_id: str) -> dict[str, Any]:
        """The one event a command caused on the events topic."""
        events = self.caused_by(message_id)
        assert len(events) == 1, events
        return events[0]

    def types(self, message_id: str, topic: str | None = None) -> list[str]:
        return [e["type"] for e in self.caused_by(message_id, topic)]

    def reason(self, message_id: str) -> str:
        outcome = self.outcome(message_id)
        assert outcome["type"] == "CommandRejected", outcome
        assert outcome["data"]["detail"]
        return str(outcome["data"]["reason"])

    def dead_letters(self, topic: str) -> list[Record]:
        return [r for r in self.publisher.records if r.topic == dlq_topic(topic)]


def in_memory(
    name: str,
    settings: ServiceSettings,
    wire: Callable[[Runtime], S],
    events_topic: str,
    commands_topic: str | None,
) -> InMemory[S]:
    clock = MovableClock()
    runtime = memory_runtime(name, settings, clock)
    return InMemory(wire(runtime), runtime, clock, events_topic, commands_topic)
