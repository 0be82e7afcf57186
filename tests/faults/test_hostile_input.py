"""Poison and hostile input on every command topic: each gets a CommandRejected or a DLQ entry
with the reason, the service stays up, and a good message right behind it is processed."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.topics import (
    ACCESS_CONTROL_COMMANDS,
    ACCESS_CONTROL_EVENTS,
    INVITATIONS_COMMANDS,
    INVITATIONS_EVENTS,
    MEMBERSHIP_COMMANDS,
    MEMBERSHIP_EVENTS,
    PARTITIONS,
)
from services.runtime.kafka_access import KafkaAccess
from tests.e2e.conftest import System
from tests.e2e.test_story import register

pytestmark = pytest.mark.faults

EVENTS_OF = {
    INVITATIONS_COMMANDS: INVITATIONS_EVENTS,
    MEMBERSHIP_COMMANDS: MEMBERSHIP_EVENTS,
    ACCESS_CONTROL_COMMANDS: ACCESS_CONTROL_EVENTS,
}
SERVICE_OF = {
    INVITATIONS_COMMANDS: "invitations",
    MEMBERSHIP_COMMANDS: "membership",
    ACCESS_CONTROL_COMMANDS: "access_control",
}
TYPE_OF = {
    INVITATIONS_COMMANDS: "InviteTeamMember",
    MEMBERSHIP_COMMANDS: "DisconnectMember",
    ACCESS_CONTROL_COMMANDS: "RegisterClient",
}


def envelope(account: str, type_: str, data: Any, **extra: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/gateway",
        "type": type_,
        "time": "2026-11-27T21:04:05.123Z",
        "accountid": account,
        "actorid": "owner-1",
        "data": data,
        **extra,
    }


def raw_inputs(account: str) -> list[tuple[str, bytes]]:
    """Inputs that can't be answered with a CommandRejected: they must land in the DLQ."""
    no_type = envelope(account, "X", {})
    del no_type["type"]
    return [
        ("not JSON", b"{this is not json"),
        ("invalid UTF-8", b"\xff\xfe\xfa{}"),
        ("JSON but not an object", b'[{"type": "InviteTeamMember"}]'),
        ("missing envelope attributes", json.dumps(no_type).encode()),
        ("$gt as the account id", json.dumps(envelope({"$gt": ""}, "X", {})).encode()),  # type: ignore[arg-type]
        ("path traversal account id", json.dumps(envelope("../../etc/passwd", "X", {})).encode()),
        ("1 MB of garbage", b"{" + b"x" * 1_000_000),
        ("empty record", b""),
    ]


def rejected_inputs(topic: str) -> list[tuple[str, str, Any]]:
    """Identifiable but invalid commands: exactly one CommandRejected(invalid) each."""
    kind = TYPE_OF[topic]
    common = [
        ("unknown type", "DropDatabase", {}),
        ("1 MB payload", kind, {"blob": "x" * 1_000_000}),
        ("data is not an object", kind, "just a string"),
        (
            "wrong types",
            kind,
            {"email": 42, "roles": "practitioner", "member_id": ["x"], "client_id": 7},
        ),
    ]
    if topic == INVITATIONS_COMMANDS:
        return [
            *common,
            (
                "10,000-char message",
                kind,
                {"email": "a@example.com", "roles": ["practitioner"], "message": "m" * 10_000},
            ),
            (
                "CR/LF in the email",
                kind,
                {"email": "a@example.com\r\nBcc: x@evil.test", "roles": ["practitioner"]},
            ),
            ("$gt as the email", kind, {"email": {"$gt": ""}, "roles": ["practitioner"]}),
            (
                "$where as the email",
                kind,
                {"email": "$where: sleep(1000)", "roles": ["practitioner"]},
            ),
            (
                "path traversal invitation id",
                "ResendInvitation",
                {"invitation_id": "../../etc/passwd"},
            ),
        ]
    if topic == MEMBERSHIP_COMMANDS:
        return [
            *common,
            ("$gt as the member id", kind, {"member_id": {"$gt": ""}}),
            ("path traversal member id", kind, {"member_id": "../../etc/passwd"}),
            ("$where as the member id", kind, {"member_id": "$where"}),
        ]
    return [
        *common,
        ("$gt as a tag", kind, {"client_id": "c1", "security_tags": [{"$gt": ""}]}),
        ("$gt as the client id", kind, {"client_id": {"$gt": ""}, "security_tags": []}),
        ("path traversal client id", kind, {"client_id": "../x", "security_tags": []}),
        ("51 tags", kind, {"client_id": "c1", "security_tags": [f"t{i}" for i in range(51)]}),
    ]


async def dlq_records(access: KafkaAccess, topic: str) -> list[Any]:
    consumer = AIOKafkaConsumer(**access.aiokafka(), enable_auto_commit=False)
    await consumer.start()
    partitions = [TopicPartition(f"{topic}.dlq", p) for p in range(PARTITIONS)]
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    found = []
    while True:
        batch = await consumer.getmany(timeout_ms=1500)
        if not batch:
            break
        found += [r for records in batch.values() for r in records]
    await consumer.stop()
    return found


@pytest.mark.parametrize(
    "topic", [INVITATIONS_COMMANDS, MEMBERSHIP_COMMANDS, ACCESS_CONTROL_COMMANDS]
)
async def test_hostile_input_is_dead_lettered_or_rejected_and_the_next_command_is_processed(
    system: System, topic: str
) -> None:
    account = f"acct-hostile-{system.unique}"
    await register(system, account, "owner-1", f"owner-{system.unique}@example.com")
    events = system.taps[EVENTS_OF[topic]]

    raws = raw_inputs(account)
    for _name, raw in raws:
        await system.gateway.send_raw(topic, account, raw)
    for name, type_, data in rejected_inputs(topic):
        command = envelope(account, type_, data)
        await system.gateway.send_raw(topic, account, json.dumps(command).encode())
        outcome = await events.outcome_of(command["id"], timeout=60)
        assert outcome["type"] == "CommandRejected", name
        assert outcome["data"]["reason"] == "invalid", name
        assert outcome["data"]["detail"], name

    # a good command right behind all of it
    good = {
        INVITATIONS_COMMANDS: (
            "InviteTeamMember",
            {"email": f"good-{system.unique}@example.com", "roles": ["practitioner"]},
        ),
        MEMBERSHIP_COMMANDS: (
            "ChangeMemberRoles",
            {"member_id": "nobody", "roles": ["practitioner"]},
        ),
        ACCESS_CONTROL_COMMANDS: (
            "RegisterClient",
            {"client_id": "good-client", "security_tags": ["x"]},
        ),
    }[topic]
    command_id = await system.gateway.send(topic, good[0], account, good[1], "owner-1")
    outcome = await events.outcome_of(command_id, timeout=60)
    assert outcome["data"].get("reason") in (None, "not_found"), outcome

    dead = await dlq_records(system.admin, topic)
    ours = {r.value for r in dead if r.key == account.encode()}
    for name, raw in raws:
        assert raw in ours, f"{name} is not in {topic}.dlq"
    for record in dead:
        if record.key == account.encode():
            headers = dict(record.headers)
            assert headers["dlq-error"] and headers["dlq-source-topic"] == topic.encode()
    response = await system.get(SERVICE_OF[topic], "/readyz")
    assert response.status_code == 200
