"""STACK_KAFKA_TLS: a second broker of the stack's own making, on free ports, serving SASL_SSL
with its self-signed certificate; a principal produces and reads through it, and a client that
does not trust the certificate is refused."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import KafkaConnectionError

from stack import config, servers
from stack.topics import create_all
from tests.processes import free_port


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[config.StackConfig]:
    cfg = replace(
        config.load(),
        kafka_port=free_port(),
        kafka_controller_port=free_port(),
        data_dir=tmp_path / "stack",
        kafka_tls=True,
    )
    servers.start(cfg, "kafka")
    try:
        servers.wait_ready(cfg, "kafka", 120)
        create_all(servers.kafka_access(cfg))
        yield cfg
    finally:
        servers.stop(cfg, "kafka")


async def test_a_principal_produces_and_reads_over_sasl_ssl(
    tls_broker: config.StackConfig,
) -> None:
    gateway = servers.kafka_access(tls_broker, "gateway")
    assert gateway.security_protocol == "SASL_SSL" and Path(gateway.ssl_cafile).exists()
    producer = AIOKafkaProducer(**gateway.aiokafka(), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait("invitations.commands", b"over tls", key=b"acct")
    finally:
        await producer.stop()
    admin = servers.kafka_access(tls_broker)
    consumer = AIOKafkaConsumer(
        **admin.aiokafka(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition("invitations.commands", p) for p in range(6)])
        batches = await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()
    assert [r.value for records in batches.values() for r in records] == [b"over tls"]


async def test_a_client_that_does_not_trust_the_certificate_is_refused(
    tls_broker: config.StackConfig,
) -> None:
    untrusting = servers.kafka_access(tls_broker, "gateway").aiokafka()
    untrusting["ssl_context"] = ssl.create_default_context()  # the system's CAs only
    producer = AIOKafkaProducer(**untrusting, request_timeout_ms=5000)
    with pytest.raises(KafkaConnectionError):
        await asyncio.wait_for(producer.start(), 30)
    await producer.stop()
