"""Several access_control instances in one group: each owns the same partition numbers of
access-control.commands and membership.events, so an account's commands and membership events
are handled by one instance, one after the other (a client's re-tag and a member's disconnect
handled at once by two instances each read the other's old facts: both diffs miss the change,
and a disconnected practitioner could keep a client in the published view).

A service that reads topics together refuses to start while their partition counts differ."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

import pytest

from contracts.topics import ACCESS_CONTROL_COMMANDS, MEMBERSHIP_EVENTS, PARTITIONS
from services.access_control.app import build
from services.access_control.settings import AccessControlSettings
from services.runtime.service import Runtime
from services.runtime.startup import TopicsNotCoPartitioned, check_topic_access
from tests.harness import base_settings
from tests.kafka_tools import create_topic
from tests.servers import Servers

TOPICS = (ACCESS_CONTROL_COMMANDS, MEMBERSHIP_EVENTS)


def owned(runtime: Runtime) -> dict[str, set[int]]:
    """The partitions of each topic this instance's consumers own now."""
    partitions: dict[str, set[int]] = defaultdict(set)
    for subscription in runtime.subscriptions:
        subscriber = subscription.subscriber
        if subscriber is not None and subscriber.consumer is not None:
            for tp in subscriber.consumer.assignment():
                partitions[tp.topic].add(tp.partition)
    return partitions


async def settled(runtimes: list[Runtime]) -> list[dict[str, set[int]]]:
    """The instances' partitions once every instance owns some and every partition of both
    topics has exactly one owner (six partitions: range assignment gives each of up to six
    instances some)."""
    async with asyncio.timeout(60):
        while True:
            ownership = [owned(runtime) for runtime in runtimes]
            if all(ownership) and all(
                sorted(p for o in ownership for p in o.get(topic, set())) == list(range(PARTITIONS))
                for topic in TOPICS
            ):
                return ownership
            await asyncio.sleep(0.1)


async def test_each_instance_owns_the_same_partitions_of_both_topics(
    servers: Servers, unique: str
) -> None:
    settings = AccessControlSettings(**base_settings(servers, "access_control", unique))
    runtimes = [build(settings).runtime for _ in range(3)]
    assert runtimes[0].read_together == [list(TOPICS)]  # what the start-up check compares
    stacks = [contextlib.AsyncExitStack() for _ in runtimes]
    try:
        # started together, as a deployment's instances are
        await asyncio.gather(
            *(
                stack.enter_async_context(runtime.running())
                for runtime, stack in zip(runtimes, stacks, strict=True)
            )
        )
        three = await settled(runtimes)
        for ownership in three:
            assert ownership[ACCESS_CONTROL_COMMANDS] == ownership[MEMBERSHIP_EVENTS], three

        await stacks.pop().aclose()  # one instance leaves: its partitions move to the others
        runtimes.pop()
        two = await settled(runtimes)
        for ownership in two:
            assert ownership[ACCESS_CONTROL_COMMANDS] == ownership[MEMBERSHIP_EVENTS], two
    finally:
        for stack in stacks:
            await stack.aclose()


async def test_topics_read_together_with_unequal_partition_counts_are_refused(
    servers: Servers, unique: str
) -> None:
    three, four = f"copart-3.{unique}", f"copart-4.{unique}"
    await create_topic(servers.kafka, three, partitions=3)
    await create_topic(servers.kafka, four, partitions=4)
    await check_topic_access(servers.kafka, [three, four])  # read apart: fine
    with pytest.raises(TopicsNotCoPartitioned, match=f"{three} has 3, {four} has 4"):
        await check_topic_access(servers.kafka, [three, four], [[three, four]])
