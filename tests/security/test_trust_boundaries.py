"""The broker decides who may say what: every principal on the real broker with its real ACLs.

Runs against the local stack (the only place here whose broker enforces ACLs); where the servers
have no principals these tests fail rather than pass vacuously.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import TopicAuthorizationFailedError

from contracts.envelope import CONTENT_TYPE, new_id
from contracts.topics import (
    ACCESS,
    ACCESS_CONTROL_EVENTS,
    INVITATIONS_EVENTS,
    INVITATIONS_LINKS,
    MEMBERSHIP_EVENTS,
    PARTITIONS,
    PUBLIC_EVENT_TOPICS,
    all_topics,
)
from services.runtime.kafka_access import KafkaAccess
from tests.e2e.conftest import System
from tests.e2e.test_story import _row, invite, register
from tests.processes import ServiceProcess, free_port
from tests.servers import Servers

SERVICES = ("invitations", "membership", "notifications", "access_control")


@pytest.fixture
def principals(servers: Servers) -> Servers:
    assert servers.principals, "these tests need a broker with principals (the local stack)"
    return servers


async def _produce(
    access: KafkaAccess, topic: str, value: dict[str, Any], key: str, idempotent: bool = True
) -> None:
    producer = AIOKafkaProducer(**access.aiokafka(), acks="all", enable_idempotence=idempotent)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic,
            json.dumps(value).encode(),
            key=key.encode(),
            headers=[("content-type", CONTENT_TYPE.encode())],
        )
    finally:
        await producer.stop()


async def _refused_to_produce(access: KafkaAccess, topic: str) -> bool:
    try:
        # not idempotent: the refusal must come from the topic's ACL, not the cluster's
        await _produce(access, topic, {"probe": True}, "probe", idempotent=False)
    except TopicAuthorizationFailedError:
        return True
    return False


async def _records_read(access: KafkaAccess, topic: str) -> int:
    """How many records `access` gets from the start of the topic within 3 s. A denied read
    returns nothing (no DESCRIBE either: aiokafka logs the refused metadata) or raises (DESCRIBE
    but no READ: the broker refuses the fetch)."""
    consumer = AIOKafkaConsumer(
        **access.aiokafka(), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
        batches = await consumer.getmany(timeout_ms=3000)
    except TopicAuthorizationFailedError:
        return 0
    finally:
        await consumer.stop()
    return sum(len(records) for records in batches.values())


def _forged(type_: str, account: str, data: dict[str, Any], source: str) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": new_id(),
        "source": source,
        "type": type_,
        "time": "2026-11-28T10:00:00.000Z",
        "datacontenttype": "application/json",
        "accountid": account,
        "data": data,
    }


async def test_the_gateway_cannot_forge_events_and_nothing_changes(
    principals: Servers, system: System
) -> None:
    account, owner = f"acct-forge-{system.unique}", "owner-olive"
    await register(system, account, owner, f"olive-{system.unique}@example.com")
    gateway = principals.as_principal("gateway")
    stranger = f"mallory-{system.unique}@example.com"
    forgeries = [
        (
            INVITATIONS_EVENTS,
            _forged(
                "InvitationAccepted",
                account,
                {
                    "invitation_id": new_id(),
                    "email": stranger,
                    "roles": ["administrator"],
                    "user_id": "mallory",
                    "invited_by": owner,
                    "accepted_at": "2026-11-28T10:00:00.000Z",
                },
                "/services/invitations",
            ),
        ),
        (
            MEMBERSHIP_EVENTS,
            _forged(
                "MemberJoined",
                account,
                {
                    "member_id": "mallory",
                    "email": stranger,
                    "roles": ["administrator"],
                    "joined_at": "2026-11-28T10:00:00.000Z",
                },
                "/services/membership",
            ),
        ),
        (
            ACCESS_CONTROL_EVENTS,
            _forged(
                "ClientVisibilityChanged",
                account,
                {"member_id": "mallory", "granted": ["kid-1"]},
                "/services/access-control",
            ),
        ),
    ]
    for topic, event in forgeries:
        with pytest.raises(TopicAuthorizationFailedError):
            await _produce(gateway, topic, event, account)
    await asyncio.sleep(3)  # what a forged event would have caused shows up by now
    users = await system.users(account)
    assert [u["email"] for u in users] == [f"olive-{system.unique}@example.com"]
    response = await system.get(
        "access_control", f"/accounts/{account}/members/mallory/visible-clients"
    )
    assert response.status_code == 404  # access_control knows no such member


async def test_downstream_can_produce_nowhere(principals: Servers) -> None:
    downstream = principals.as_principal("downstream")
    allowed = [t for t in all_topics() if not await _refused_to_produce(downstream, t)]
    assert allowed == []


async def test_no_service_can_write_another_services_topics(principals: Servers) -> None:
    breaches = []
    for name in SERVICES:
        own = {*ACCESS[name].produces, *(f"{t}.dlq" for t in ACCESS[name].consumes)}
        access = principals.as_principal(name)
        for topic in all_topics():
            if topic not in own and not await _refused_to_produce(access, topic):
                breaches.append((name, topic))
    assert breaches == []


async def test_only_notifications_reads_the_private_link_topic(principals: Servers) -> None:
    await _produce(principals.kafka, INVITATIONS_LINKS, {"probe": "a record to read"}, "probe")
    assert await _records_read(principals.kafka, INVITATIONS_LINKS) > 0
    readers = {
        name: await _records_read(principals.as_principal(name), INVITATIONS_LINKS) > 0
        for name in ("gateway", "downstream", *SERVICES)
    }
    assert readers == {
        "gateway": False,
        "downstream": False,
        "invitations": False,
        "membership": False,
        "notifications": True,
        "access_control": False,
    }


async def test_the_gateway_and_downstream_read_the_public_topics(principals: Servers) -> None:
    for topic in PUBLIC_EVENT_TOPICS:
        await _produce(principals.kafka, topic, {"probe": "a record to read"}, "probe")
    for name in ("gateway", "downstream"):
        access = principals.as_principal(name)
        assert [t for t in PUBLIC_EVENT_TOPICS if await _records_read(access, t) == 0] == []


async def test_no_accept_token_on_any_topic_the_gateway_or_downstream_may_read(
    principals: Servers, system: System
) -> None:
    account, owner = f"acct-scan-{system.unique}", "owner-olive"
    await register(system, account, owner, f"olive-{system.unique}@example.com")
    created = await invite(system, account, owner, f"ann-{system.unique}@example.com")
    invitation_id = created.invitation_id
    token = await system.token_for(invitation_id)
    await system.eventually(
        lambda: _row(system, account, f"ann-{system.unique}@example.com", "pending")
    )
    readable = {t for name in ("gateway", "downstream") for t in ACCESS[name].consumes}
    assert INVITATIONS_LINKS not in readable
    scanned = 0
    for topic in sorted(readable):
        for record in system.taps[topic].records:
            scanned += 1
            assert token.encode() not in record.value, f"accept token on {topic}"
            assert b"accept_token" not in record.value, f"accept_token field on {topic}"
    assert scanned > 0


@pytest.fixture
def refused_process() -> Iterator[list[ServiceProcess]]:
    started: list[ServiceProcess] = []
    yield started
    for process in started:
        process.stop()


async def _readiness(process: ServiceProcess, seconds: float) -> dict[str, Any]:
    """Watch the process for `seconds`: it must stay alive, answering 503 with its reason."""
    import httpx

    body: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{process.port}", timeout=3) as http:
        for _ in range(int(seconds / 0.5)):
            assert process.process is not None and process.process.poll() is None, process.logs()
            try:
                response = await http.get("/readyz")
            except httpx.TransportError:
                await asyncio.sleep(0.5)
                continue
            assert response.status_code == 503, response.text
            body = response.json()
            await asyncio.sleep(0.5)
    return body


def _start_as(
    service: str, access: KafkaAccess, unique: str, tmp: Path, started: list[ServiceProcess]
) -> ServiceProcess:
    env = {
        **access.env(),
        "MONGODB_DB": f"{service}_{unique}",
        "KAFKA_GROUP_ID": f"{access.principal}-{unique}",
        "HTTP_PORT": str(free_port()),
        "RETRY_MAX_BACKOFF_SECONDS": "1",
    }
    process = ServiceProcess(service, env, tmp / f"{service}.log")
    started.append(process)
    process.start()
    return process


async def test_a_wrong_password_leaves_the_service_up_and_unready_with_one_log_line(
    principals: Servers, unique: str, tmp_path: Path, refused_process: list[ServiceProcess]
) -> None:
    wrong = principals.kafka.as_principal("membership", "not-the-password")
    process = _start_as("membership", wrong, unique, tmp_path, refused_process)
    body = await _readiness(process, 8)
    assert "kafka principal 'membership' cannot connect" in body["checks"]["kafka"]
    lines = [line for line in process.logs().splitlines() if "broker not started" in line]
    assert len(lines) == 1, lines  # retried many times, said once
    assert "not-the-password" not in process.logs()


async def test_a_denied_topic_is_named_and_the_service_stays_unready(
    principals: Servers, unique: str, tmp_path: Path, refused_process: list[ServiceProcess]
) -> None:
    # notifications run under the gateway's principal may not read invitations.links
    gateway = principals.as_principal("gateway")
    process = _start_as("notifications", gateway, unique, tmp_path, refused_process)
    body = await _readiness(process, 6)
    problem = body["checks"]["kafka"]
    assert "kafka principal 'gateway' is not authorised for topic(s)" in problem
    assert INVITATIONS_LINKS in problem
