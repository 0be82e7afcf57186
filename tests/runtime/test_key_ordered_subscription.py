"""On the real broker: a slow account holds up neither the other accounts' records fetched after
it nor more of the commit than its own record; a stop commits what finished, no further."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.runtime.concurrency import Concurrency
from services.runtime.dlq import Origin
from services.runtime.kafka import make_broker
from services.runtime.subscription import subscribe
from tests.kafka_tools import committed_offsets, create_topic
from tests.servers import Servers


async def _until(condition: Callable[[], bool], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def test_a_slow_account_holds_only_itself_and_the_commit_below_its_record(
    servers: Servers, unique: str
) -> None:
    topic, group = f"lanes-test.{unique}", f"lanes-test-{unique}"
    await create_topic(servers.kafka, topic, partitions=1)

    release = asyncio.Event()
    handled: list[tuple[bytes, int]] = []

    async def work(value: bytes | None, origin: Origin) -> None:
        assert origin.key is not None
        if origin.key == b"acct-slow" and value == b"first":
            await release.wait()
        handled.append((origin.key, origin.offset))

    broker = make_broker(servers.kafka, f"lanes-test-{unique}")
    # small fetches, so that the other accounts' records arrive in later fetches than the slow one
    subscription = subscribe(
        broker,
        [topic],
        work,
        group,
        "lanes-test",
        "",
        Concurrency(max_in_flight=8, max_accounts=4, commit_every_ms=100),
    )
    producer = AIOKafkaProducer(**servers.kafka.aiokafka())
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"first", key=b"acct-slow")  # offset 0
        for n in range(30):
            await producer.send(topic, b"x", key=f"acct-{n % 5}".encode())
        await producer.send_and_wait(topic, b"second", key=b"acct-slow")  # offset 31
    finally:
        await producer.stop()

    async with broker:
        await broker.start()
        try:
            await _until(lambda: len(handled) == 30)  # all but the slow account's two
            assert all(key != b"acct-slow" for key, _ in handled)
            await asyncio.sleep(0.5)  # time for commits to go out, were they to pass it
            assert (await committed_offsets(servers.kafka, group, topic)).get(0, 0) in (0, -1)

            release.set()
            await _until(lambda: len(handled) == 32)
            assert [offset for key, offset in handled if key == b"acct-slow"] == [0, 31]
            await _until(lambda: subscription.lanes.book.to_commit() == {})
            assert await committed_offsets(servers.kafka, group, topic) == {0: 32}
        finally:
            await subscription.stop()
    for n in range(5):
        offsets = [offset for key, offset in handled if key == f"acct-{n}".encode()]
        assert offsets == sorted(offsets) and len(offsets) == 6


async def test_a_second_consumer_joining_mid_stream_loses_nothing_and_keeps_account_order(
    servers: Servers, unique: str
) -> None:
    """The first consumer's partitions change hands while its lanes hold records that do not
    finish: the rebalance waits for them, cancels them, commits what finished; the new owners
    read the rest again. Nothing is lost, and every account's records are handled in order by
    whoever handles them (a record may be handled twice)."""
    topic, group = f"lanes-rebalance.{unique}", f"lanes-rebalance-{unique}"
    await create_topic(servers.kafka, topic, partitions=2)
    accounts = [f"acct-{n}" for n in range(8)]
    producer = AIOKafkaProducer(**servers.kafka.aiokafka())
    await producer.start()
    try:
        for n in range(160):
            await producer.send(topic, str(n // 8).encode(), key=accounts[n % 8].encode())
        await producer.flush()
    finally:
        await producer.stop()

    handled: list[tuple[str, bytes, int]] = []  # (consumer, account, sequence of the account)
    rebalanced = asyncio.Event()

    def on_reassignment() -> None:
        if first.lanes.generation >= 2:  # its first assignment was 1; the revoke makes it 2
            rebalanced.set()

    def worker(name: str) -> Callable[[bytes | None, Origin], Awaitable[None]]:
        async def work(value: bytes | None, origin: Origin) -> None:
            assert origin.key is not None and value is not None
            if name == "first" and len(handled) >= 20:
                await rebalanced.wait()  # held until its partitions change hands
            handled.append((name, origin.key, int(value)))

        return work

    limits = Concurrency(max_in_flight=20, max_accounts=4)
    first_broker = make_broker(servers.kafka, f"lanes-rebalance-1-{unique}")
    first = subscribe(
        first_broker, [topic], worker("first"), group, "first", "", limits, [on_reassignment]
    )
    first.patience = 1.0  # then the held records are cancelled
    second_broker = make_broker(servers.kafka, f"lanes-rebalance-2-{unique}")
    second = subscribe(second_broker, [topic], worker("second"), group, "second", "", limits)
    async with first_broker, second_broker:
        await first_broker.start()
        try:
            await _until(lambda: len(handled) >= 20 and first.lanes.in_flight >= 4)
            await second_broker.start()
            await _until(lambda: {(k, s) for _, k, s in handled} >= _everything(accounts, 20))
            assert any(name == "second" for name, _, _ in handled)
            await _until(lambda: not first.lanes.book.to_commit())
            await _until(lambda: not second.lanes.book.to_commit())
        finally:
            await first.stop()
            await second.stop()

    for account in accounts:
        sequences = [s for _, key, s in handled if key == account.encode()]
        firsts = [s for n, s in enumerate(sequences) if s not in sequences[:n]]
        assert firsts == list(range(20)), account  # in order; a repeat only of what came before
    assert sum((await committed_offsets(servers.kafka, group, topic)).values()) == 160


def _everything(accounts: list[str], per_account: int) -> set[tuple[bytes, int]]:
    return {(account.encode(), n) for account in accounts for n in range(per_account)}


async def test_fetched_records_reach_the_lanes_whole_without_a_worker_thread(
    servers: Servers, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each record arrives with its value, key, partition and offset as Kafka holds them, and
    handing a fetch to the lanes costs no hop through anyio's worker threads (FastStream's
    context parameter did one per fetch: a thread wake-up and a GIL hand-over every time)."""
    topic, group = f"lanes-raw.{unique}", f"lanes-raw-{unique}"
    await create_topic(servers.kafka, topic, partitions=2)
    hops = 0
    run_sync = anyio.to_thread.run_sync

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal hops
        hops += 1
        return await run_sync(*args, **kwargs)

    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    producer = AIOKafkaProducer(**servers.kafka.aiokafka())
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(
                topic, f'{{"n": {n}}}'.encode(), key=f"acct-{n % 3}".encode()
            )
            for n in range(12)
        ]
    finally:
        await producer.stop()
    where = {(m.partition, m.offset) for m in sent}

    received: list[tuple[bytes | None, Origin]] = []

    async def work(value: bytes | None, origin: Origin) -> None:
        received.append((value, origin))

    broker = make_broker(servers.kafka, f"lanes-raw-{unique}")
    subscription = subscribe(broker, [topic], work, group, "lanes-raw", "")
    async with broker:
        await broker.start()
        try:
            await _until(lambda: len(received) == 12)
        finally:
            await subscription.stop()
    assert {(o.partition, o.offset) for _, o in received} == where
    assert all(o.topic == topic for _, o in received)
    assert sorted((o.key, v) for v, o in received) == sorted(
        (f"acct-{n % 3}".encode(), f'{{"n": {n}}}'.encode()) for n in range(12)
    )
    assert hops == 0


class _CallCount:
    """How often every consumer's coroutine method `name` is called (it still runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
        self.calls = 0
        method = getattr(AIOKafkaConsumer, name)

        async def counted(consumer: AIOKafkaConsumer, *args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return await method(consumer, *args, **kwargs)

        monkeypatch.setattr(AIOKafkaConsumer, name, counted)


async def test_an_idle_subscription_waits_for_a_record_without_waking_on_a_timer(
    servers: Servers, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Idle, the subscription's fetch waits in rounds of `fetch_wait_ms` (FastStream's own
    returned empty after each 20 ms and slept 20 ms more: 50 fetches in these 2 s), and a record
    that arrives ends the wait at once rather than at the end of the round."""
    topic, group = f"lanes-idle.{unique}", f"lanes-idle-{unique}"
    await create_topic(servers.kafka, topic, partitions=2)
    fetches = _CallCount(monkeypatch, "getmany")
    handled = asyncio.Event()

    async def work(value: bytes | None, origin: Origin) -> None:
        handled.set()

    broker = make_broker(servers.kafka, f"lanes-idle-{unique}")
    assert Concurrency().fetch_wait_ms == 1000  # the default round, which the bounds below use
    subscription = subscribe(broker, [topic], work, group, "lanes-idle", "")
    producer = AIOKafkaProducer(**servers.kafka.aiokafka())
    async with broker:
        await broker.start()
        await producer.start()
        try:
            await _until(lambda: fetches.calls >= 1)  # assigned and waiting
            before = fetches.calls
            await asyncio.sleep(2)
            assert fetches.calls - before <= 3
            await producer.send_and_wait(topic, b"wake", key=b"acct-1")
            sent = asyncio.get_running_loop().time()
            await asyncio.wait_for(handled.wait(), timeout=30)
            assert asyncio.get_running_loop().time() - sent < 0.5
        finally:
            await producer.stop()
            await subscription.stop()


async def test_offsets_are_committed_at_most_once_a_commit_interval_and_all_of_them_at_a_stop(
    servers: Servers, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A commit costs the broker and the client about 1.4 ms of CPU: a steady stream is
    committed once per `commit_every_ms` (1 s by default), not after every few records, and a
    stop still commits everything that finished."""
    topic, group = f"lanes-commits.{unique}", f"lanes-commits-{unique}"
    await create_topic(servers.kafka, topic, partitions=2)
    commits = _CallCount(monkeypatch, "commit")
    handled = 0

    async def work(value: bytes | None, origin: Origin) -> None:
        nonlocal handled
        handled += 1

    broker = make_broker(servers.kafka, f"lanes-commits-{unique}")
    assert Concurrency().commit_every_ms == 1000  # the default, which the bound below uses
    subscription = subscribe(broker, [topic], work, group, "lanes-commits", "")
    producer = AIOKafkaProducer(**servers.kafka.aiokafka())
    sent = 0
    async with broker:
        await broker.start()
        await producer.start()
        try:
            began = asyncio.get_running_loop().time()
            while asyncio.get_running_loop().time() - began < 2.5:  # a record every 25 ms
                await producer.send_and_wait(topic, b"x", key=f"acct-{sent % 7}".encode())
                sent += 1
                await asyncio.sleep(0.025)
            await _until(lambda: handled == sent)
            assert commits.calls <= 4  # every 100 ms, as before, made about 25
        finally:
            await producer.stop()
            await subscription.stop()
    committed = await committed_offsets(servers.kafka, group, topic)
    assert sum(committed.values()) == sent
