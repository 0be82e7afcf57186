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
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from contracts.messages import ClientVisibilityChanged
from contracts.topics import (
    ACCESS_CONTROL_COMMANDS,
    ACCESS_CONTROL_EVENTS,
    MEMBERSHIP_EVENTS,
    PARTITIONS,
)
from services.access_control.app import AccessControlService, build
from services.access_control.settings import AccessControlSettings
from services.access_control.visibility import apply
from services.runtime.service import Runtime
from services.runtime.startup import TopicsNotCoPartitioned, check_topic_access
from tests.harness import base_settings
from tests.kafka_tools import (
    Gateway,
    close_tap,
    create_topic,
    open_tap,
    position_group_at_end,
)
from tests.servers import Servers
from tests.services.access_control.conftest import disconnected_data, joined_data

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


class Deployment:
    """Instances of access_control in one group, each running in this process."""

    def __init__(self, services: list[AccessControlService]) -> None:
        self.services = services
        self.stacks = [contextlib.AsyncExitStack() for _ in services]

    @property
    def runtimes(self) -> list[Runtime]:
        return [service.runtime for service in self.services]

    async def start(self) -> None:
        """All at once, as a deployment's instances start; back once the partitions are
        shared out."""
        await asyncio.gather(
            *(
                stack.enter_async_context(service.runtime.running())
                for service, stack in zip(self.services, self.stacks, strict=True)
            )
        )
        await settled(self.runtimes)

    async def leave(self) -> None:
        """The last instance stops; its partitions move to the others."""
        self.services.pop()
        await self.stacks.pop().aclose()

    async def stop(self) -> None:
        for stack in self.stacks:
            await stack.aclose()


@contextlib.asynccontextmanager
async def deployment(servers: Servers, unique: str, count: int) -> AsyncIterator[Deployment]:
    """`count` instances reading from the topics' current end."""
    settings = AccessControlSettings(**base_settings(servers, "access_control", unique))
    await position_group_at_end(servers.kafka, settings.kafka_group_id, list(TOPICS))
    running = Deployment([build(settings) for _ in range(count)])
    try:
        await running.start()
        yield running
    finally:
        await running.stop()


async def test_each_instance_owns_the_same_partitions_of_both_topics(
    servers: Servers, unique: str
) -> None:
    async with deployment(servers, unique, 3) as three:
        assert three.runtimes[0].read_together == [list(TOPICS)]  # what start-up compares
        for ownership in await settled(three.runtimes):
            assert ownership[ACCESS_CONTROL_COMMANDS] == ownership[MEMBERSHIP_EVENTS]

        await three.leave()
        for ownership in await settled(three.runtimes):
            assert ownership[ACCESS_CONTROL_COMMANDS] == ownership[MEMBERSHIP_EVENTS]


async def test_topics_read_together_with_unequal_partition_counts_are_refused(
    servers: Servers, unique: str
) -> None:
    three, four = f"copart-3.{unique}", f"copart-4.{unique}"
    await create_topic(servers.kafka, three, partitions=3)
    await create_topic(servers.kafka, four, partitions=4)
    await check_topic_access(servers.kafka, [three, four])  # read apart: fine
    with pytest.raises(TopicsNotCoPartitioned, match=f"{three} has 3, {four} has 4"):
        await check_topic_access(servers.kafka, [three, four], [[three, four]])


ACCOUNTS = 16


async def _until(check: Any, timeout: float = 60) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{check.__name__}: not within {timeout}s")
        await asyncio.sleep(0.05)


async def test_a_re_tag_and_a_disconnect_at_once_leave_the_published_view_right(
    servers: Servers, unique: str
) -> None:
    """In each of 16 accounts, Ann (a practitioner with tag t) does not see client c1 (tag u).
    At once, c1 is re-tagged t (Ann would gain it) and Ann is disconnected (she loses
    everything). In whichever order they are handled, the published view must end with Ann
    seeing nothing. (Handled at the same moment by two instances, the re-tag would read Ann
    still active and publish her gaining c1 while the disconnect read c1 still on u: she would
    keep it. That moment is narrow: with the topics read apart this test did not catch it in
    five runs; the ownership test above is what fails then.) The set-up sends each account's
    RegisterClient right behind its owner's MemberJoined, on the other topic: the command must
    leave the account its turn while it waits for the event that makes its actor known."""
    accounts = [f"acct-race{n}-{unique}" for n in range(ACCOUNTS)]
    async with deployment(servers, unique, 2) as two:
        store = two.services[0].store
        producer = AIOKafkaProducer(**servers.kafka.aiokafka(), acks="all")
        await producer.start()
        tap = await open_tap(servers.kafka, ACCESS_CONTROL_EVENTS)
        gateway = Gateway(producer)
        try:
            for account in accounts:
                await gateway.send(
                    MEMBERSHIP_EVENTS, "MemberJoined", account, joined_data("owner-1", ["owner"])
                )
                await gateway.send(
                    MEMBERSHIP_EVENTS,
                    "MemberJoined",
                    account,
                    joined_data("ann", ["practitioner"], ["t"]),
                )
                await gateway.send(
                    ACCESS_CONTROL_COMMANDS,
                    "RegisterClient",
                    account,
                    {"client_id": "c1", "security_tags": ["u"]},
                    "owner-1",
                )

            async def registered() -> bool:
                clients = [await store.client(account, "c1") for account in accounts]
                return all(c is not None and not c.get("outbox") for c in clients)

            await _until(registered)

            await asyncio.gather(
                *(
                    send
                    for account in accounts
                    for send in (
                        gateway.send(
                            ACCESS_CONTROL_COMMANDS,
                            "SetClientSecurityTags",
                            account,
                            {"client_id": "c1", "security_tags": ["t"]},
                            "owner-1",
                        ),
                        gateway.send(
                            MEMBERSHIP_EVENTS,
                            "MemberDisconnected",
                            account,
                            disconnected_data("ann", ["practitioner"]),
                        ),
                    )
                )
            )

            async def both_handled() -> bool:
                for account in accounts:
                    client = await store.client(account, "c1")
                    ann = await store.member(account, "ann")
                    if client is None or client.get("tags") != ["t"] or client.get("outbox"):
                        return False
                    if ann is None or ann.get("status") != "disconnected" or ann.get("outbox"):
                        return False
                return True

            await _until(both_handled)
            await tap.settle(1.0)
            kept = {}
            for account in accounts:
                view: dict[str, set[str]] = {}
                for event in tap.envelopes(account):
                    if event["type"] == "ClientVisibilityChanged":
                        apply(view, ClientVisibilityChanged.model_validate(event["data"]))
                assert view.get("owner-1") == {"c1"}, account
                if view.get("ann"):
                    kept[account] = view["ann"]
            assert kept == {}, f"disconnected Ann still sees clients in {len(kept)} accounts"
        finally:
            await close_tap(tap)
            await producer.stop()
