"""kill -9 between the document write and the publish: after a restart the event is
published exactly once, with the same id; and no accept token ever reaches a log line."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from contracts.envelope import derived_id
from contracts.topics import (
    INVITATIONS_COMMANDS,
    INVITATIONS_EVENTS,
    INVITATIONS_LINKS,
    MEMBERSHIP_EVENTS,
)
from services.runtime.mongo import Document
from tests.kafka_tools import Gateway, close_tap, open_tap, position_group_at_end
from tests.processes import ServiceProcess, free_port
from tests.servers import Servers


async def test_killed_after_the_write_and_before_the_publish_the_event_is_published_once(
    servers: Servers, unique: str, tmp_path: Path, mongo: AsyncMongoClient[Document]
) -> None:
    db, group, account = f"invitations_{unique}", f"invitations-{unique}", f"acct-crash-{unique}"
    await position_group_at_end(servers.kafka, group, [INVITATIONS_COMMANDS, MEMBERSHIP_EVENTS])
    env = {
        "MONGODB_DB": db,
        "KAFKA_GROUP_ID": group,
        "HTTP_PORT": str(free_port()),
        "OUTBOX_SWEEP_SECONDS": "1",
        "LOG_LEVEL": "DEBUG",
    }
    producer = AIOKafkaProducer(**servers.kafka.aiokafka(), acks="all")
    await producer.start()
    gateway = Gateway(producer)
    events = await open_tap(servers.kafka, INVITATIONS_EVENTS)
    links = await open_tap(servers.kafka, INVITATIONS_LINKS)
    doomed = ServiceProcess(
        "invitations",
        {**env, "FAULT_CRASH_BEFORE_PUBLISH": "InvitationCreated", "TEST_MODE": "true"},
        tmp_path / "run1.log",
    )
    survivor = ServiceProcess("invitations", env, tmp_path / "run2.log")
    try:
        doomed.start()
        await doomed.wait_ready()
        await gateway.send(
            MEMBERSHIP_EVENTS,
            "ProAccountRegistered",
            account,
            {
                "account_name": "Crash Clinic",
                "owner_user_id": "owner-1",
                "owner_email": "o@example.com",
            },
        )
        await gateway.send(
            MEMBERSHIP_EVENTS,
            "MemberJoined",
            account,
            {
                "member_id": "owner-1",
                "email": "o@example.com",
                "roles": ["owner"],
                "joined_at": "2026-11-27T10:00:00Z",
            },
        )
        members = mongo[db]["members"]
        for _ in range(200):
            if await members.find_one({"_id": f"{account}|owner-1"}):
                break
            await asyncio.sleep(0.05)

        command_id = await gateway.send(
            INVITATIONS_COMMANDS,
            "InviteTeamMember",
            account,
            {"email": "ann@example.com", "roles": ["practitioner"]},
            "owner-1",
        )
        assert await doomed.wait_exit() == -signal.SIGKILL
        invitation_id = derived_id(command_id, "invitation")
        stored = await mongo[db]["invitations"].find_one({"_id": invitation_id})
        assert stored is not None, "the document write happened before the crash"
        assert [e["type"] for e in stored["outbox"]] == [
            "InvitationCreated",
            "InvitationLinkIssued",
        ]
        await events.settle(1)
        assert not [e for e in events.envelopes(account) if e["type"] == "InvitationCreated"]

        survivor.start()
        await survivor.wait_ready()
        published = await events.wait_for(
            lambda e: e["type"] == "InvitationCreated" and e["accountid"] == account
        )
        await events.settle(3)  # a second publish (relay + redelivery) would show up by now
        created = [e for e in events.envelopes(account) if e["type"] == "InvitationCreated"]
        assert len(created) == 1
        assert created[0]["id"] == derived_id(command_id, "InvitationCreated")
        assert "accept_token" not in published[0]["data"]  # the public event has no secret
        await links.settle(1)
        issued = [e for e in links.envelopes(account) if e["type"] == "InvitationLinkIssued"]
        assert [e["id"] for e in issued] == [derived_id(command_id, "InvitationLinkIssued")]
        token = issued[0]["data"]["accept_token"]
        assert token

        accept_id = await gateway.send(
            INVITATIONS_COMMANDS,
            "AcceptInvitation",
            account,
            {
                "invitation_id": invitation_id,
                "token": token,
                "user_id": "u-ann",
                "email": "ann@example.com",
            },
        )
        assert (await events.outcome_of(accept_id))["type"] == "InvitationAccepted"
        emptied = await mongo[db]["invitations"].find_one({"_id": invitation_id})
        assert emptied is not None and emptied["outbox"] == []
    finally:
        doomed.kill()
        survivor.stop()
        await close_tap(events)
        await close_tap(links)
        await producer.stop()

    logs = doomed.logs() + survivor.logs()
    assert "fault injection: SIGKILL before publishing InvitationCreated" in logs
    assert token not in logs
    for line in logs.splitlines():
        if line.startswith("{"):
            json.loads(line)  # structured
