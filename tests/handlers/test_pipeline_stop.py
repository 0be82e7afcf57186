"""A stopped consumer stops retrying a record that keeps failing transiently (an outage), even
when the stop was lost inside a failed attempt (`services/runtime/cancellation.py`)."""

from __future__ import annotations

import asyncio
import uuid

from contracts.envelope import CloudEvent
from contracts.messages import RegisterProAccount
from contracts.topics import MEMBERSHIP_COMMANDS
from services.runtime.consumer import Pipeline, RetryPolicy
from services.runtime.dlq import Origin
from services.runtime.inbound import Parsed
from services.runtime.publisher import MemoryPublisher
from tests.lost_cancellation import refused_connect


async def test_retries_of_a_transient_failure_end_when_the_stop_was_lost_in_an_attempt() -> None:
    attempts = 0
    consumer: asyncio.Task[None] | None = None

    async def database_down(_: Parsed) -> None:
        nonlocal attempts
        attempts += 1
        assert consumer is not None
        await refused_connect(cancel_with_it=consumer.cancel if attempts == 1 else None)

    pipeline = Pipeline(
        service="membership",
        topic=MEMBERSHIP_COMMANDS,
        models={"RegisterProAccount": RegisterProAccount},
        handler=database_down,
        publisher=MemoryPublisher(),
        retry=RetryPolicy(base_backoff=0.01, max_backoff=0.01),
    )
    command = CloudEvent(
        id=str(uuid.uuid4()),
        source="/test",
        type="RegisterProAccount",
        accountid="acct-1",
        data=RegisterProAccount(
            account_name="Sunrise", owner_user_id="owner-1", owner_email="owner-1@example.com"
        ),
    )
    origin = Origin(MEMBERSHIP_COMMANDS, 0, 0, b"acct-1")
    consumer = asyncio.create_task(pipeline.handle(command.to_json_bytes(), origin))
    await asyncio.wait({consumer}, timeout=2)
    assert consumer.cancelled()
    assert attempts == 1  # no further attempt once the stop was asked for
