"""Commands in, outcomes and public events out, over Kafka, as the `gateway` principal does.

async with TeamClient(KafkaConnection.from_env()) as team:
    outcome = await team.request(
        InviteTeamMember(email="ann@example.com", roles=[Role.PRACTITIONER]),
        account_id="acct-42",
        actor_id="user-owner-1",
    )
    invitation_id = outcome.accepted().data.invitation_id
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from contracts.envelope import CONTENT_TYPE, CloudEvent, MessageData, new_id
from contracts.topics import (
    OUTCOME_TOPIC,
    PARTITIONS,
    PUBLIC_EVENT_TOPICS,
    command_topic,
    outcome_types,
)
from pro_team_client.connection import KafkaConnection
from pro_team_client.outcomes import Event, Outcome, OutcomeTimeout

GATEWAY_SOURCE = "/gateway"


class TeamClient:
    """Sends commands (as CloudEvents, keyed by account) and awaits each one's outcome, which
    its owning service publishes on its events topic with `causationid` = the command's id."""

    def __init__(self, connection: KafkaConnection, source: str = GATEWAY_SOURCE) -> None:
        self.connection = connection
        self.source = source
        self._producer: AIOKafkaProducer | None = None
        self._outcomes: AIOKafkaConsumer | None = None
        self._pump: asyncio.Task[None] | None = None
        # command id -> (the types that can answer it, where the answer goes)
        self._waiting: dict[str, tuple[frozenset[str], asyncio.Future[Event]]] = {}

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            **self.connection.aiokafka(), acks="all", enable_idempotence=True
        )
        await self._producer.start()
        # No consumer group: every client reads every outcome from where it started, so the
        # position is fixed before any command is sent (an outcome can't be missed).
        self._outcomes = AIOKafkaConsumer(**self.connection.aiokafka(), enable_auto_commit=False)
        await self._outcomes.start()
        partitions = [
            TopicPartition(topic, p) for topic in OUTCOME_TOPIC.values() for p in range(PARTITIONS)
        ]
        self._outcomes.assign(partitions)
        ends = await self._outcomes.end_offsets(partitions)
        for partition, offset in ends.items():
            self._outcomes.seek(partition, offset)
        self._pump = asyncio.create_task(self._read_outcomes())

    async def stop(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._pump
        if self._outcomes is not None:
            await self._outcomes.stop()
        if self._producer is not None:
            await self._producer.stop()
        for _, waiting in self._waiting.values():
            waiting.cancel()

    async def __aenter__(self) -> TeamClient:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def send(
        self,
        command: MessageData,
        *,
        account_id: str,
        actor_id: str | None = None,
        command_id: str | None = None,
        correlation_id: str | None = None,
    ) -> str:
        """Publish the command (acknowledged by every in-sync replica); returns its id. Sending
        again with the same `command_id` is safe: it is applied once."""
        if self._producer is None:
            raise RuntimeError("start the client first (async with TeamClient(...))")
        envelope = CloudEvent[Any](  # Any: `data` is dumped as its own class
            id=command_id or new_id(),
            source=self.source,
            type=type(command).__name__,
            accountid=account_id,
            correlationid=correlation_id or new_id(),
            actorid=actor_id,
            data=command,
        )
        await self._producer.send_and_wait(
            command_topic(type(command)),
            envelope.to_json_bytes(),
            key=envelope.key,
            headers=[("content-type", CONTENT_TYPE.encode())],
        )
        return envelope.id

    async def request(
        self,
        command: MessageData,
        *,
        account_id: str,
        actor_id: str | None = None,
        command_id: str | None = None,
        correlation_id: str | None = None,
        timeout: float = 30.0,  # noqa: ASYNC109 - a deadline for the outcome, not for the call
    ) -> Outcome:
        """Send the command and wait for its one outcome (the event it caused, or its
        CommandRejected); OutcomeTimeout when none arrives in `timeout` seconds."""
        command_id = command_id or new_id()
        waiting = asyncio.get_running_loop().create_future()
        self._waiting[command_id] = (outcome_types(type(command)), waiting)
        try:
            await self.send(
                command,
                account_id=account_id,
                actor_id=actor_id,
                command_id=command_id,
                correlation_id=correlation_id,
            )
            event = await asyncio.wait_for(asyncio.shield(waiting), timeout)
        except TimeoutError:
            raise OutcomeTimeout(
                f"no outcome of {type(command).__name__} {command_id} in {timeout}s"
            ) from None
        finally:
            self._waiting.pop(command_id, None)
        return Outcome(command_id, event)

    async def _read_outcomes(self) -> None:
        assert self._outcomes is not None
        async for record in self._outcomes:
            if record.value is None:
                continue
            event = Event.parse(record.topic, record.value)
            if event is None or event.envelope.causationid is None:
                continue
            found = self._waiting.get(event.envelope.causationid)
            if found is None:
                continue
            answers, waiting = found
            if event.type in answers and not waiting.done():
                waiting.set_result(event)

    @contextlib.asynccontextmanager
    async def tail(
        self, topics: Iterable[str] = PUBLIC_EVENT_TOPICS
    ) -> AsyncIterator[AsyncIterator[Event]]:
        """The public events from now on (no consumer group, nothing committed): the position
        is fixed when the context is entered, so nothing published after that is missed.

            async with team.tail() as events:
                await team.send(...)
                async for event in events: ...
        """
        consumer = AIOKafkaConsumer(**self.connection.aiokafka(), enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
            consumer.assign(partitions)
            for partition, offset in (await consumer.end_offsets(partitions)).items():
                consumer.seek(partition, offset)
            yield _parsed(consumer)
        finally:
            await consumer.stop()

    async def events(
        self,
        group_id: str,
        topics: Iterable[str] = PUBLIC_EVENT_TOPICS,
        from_beginning: bool = False,
    ) -> AsyncIterator[Event]:
        """The public events, for a consumer group: at least once, in order per account. An
        event's offset is committed when the next one is asked for (so an event whose
        processing did not finish is read again after a crash); drop repeats by `event.id`."""
        consumer = AIOKafkaConsumer(
            *topics,
            **self.connection.aiokafka(),
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if from_beginning else "latest",
        )
        await consumer.start()
        try:
            async for record in consumer:
                if record.value is None:
                    continue
                event = Event.parse(record.topic, record.value)
                if event is not None:
                    yield event
                partition = TopicPartition(record.topic, record.partition)
                await consumer.commit({partition: record.offset + 1})
        finally:
            await consumer.stop()


async def _parsed(consumer: AIOKafkaConsumer) -> AsyncIterator[Event]:
    async for record in consumer:
        event = None if record.value is None else Event.parse(record.topic, record.value)
        if event is not None:
            yield event
