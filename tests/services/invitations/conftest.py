"""The invitations service running in this process against the real broker and FerretDB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from contracts.envelope import new_id
from contracts.topics import INVITATIONS_COMMANDS, INVITATIONS_EVENTS, MEMBERSHIP_EVENTS
from services.invitations.app import InvitationsService, build
from services.invitations.settings import InvitationsSettings
from services.runtime.clock import MovableClock
from tests.kafka_tools import Gateway, Tap, close_tap, open_tap, position_group_at_end
from tests.servers import Servers


@dataclass
class Harness:
    service: InvitationsService
    clock: MovableClock
    gateway: Gateway
    events: Tap
    dlq: Tap
    unique: str

    def account(self, name: str = "a") -> str:
        return f"acct-{name}-{self.unique}"

    async def command(
        self,
        type_: str,
        account: str,
        data: dict[str, Any],
        actor: str | None = None,
        command_id: str | None = None,
    ) -> str:
        return await self.gateway.send(
            INVITATIONS_COMMANDS, type_, account, data, actor, command_id
        )

    async def outcome(
        self, type_: str, account: str, data: dict[str, Any], actor: str | None = None
    ) -> dict[str, Any]:
        command_id = await self.command(type_, account, data, actor)
        return await self.events.outcome_of(command_id)

    async def membership_event(self, type_: str, account: str, data: dict[str, Any]) -> None:
        await self.gateway.send(MEMBERSHIP_EVENTS, type_, account, data)

    async def seed_account(
        self, account: str, owner: str = "owner-1", members: dict[str, list[str]] | None = None
    ) -> None:
        """What the membership service would have published for this account."""
        await self.membership_event(
            "ProAccountRegistered",
            account,
            {
                "account_name": f"Practice {account}",
                "owner_user_id": owner,
                "owner_email": f"{owner}@example.com",
            },
        )
        joined = {owner: ["owner"], **(members or {})}
        for user, roles in joined.items():
            await self.membership_event(
                "MemberJoined",
                account,
                {
                    "member_id": user,
                    "email": f"{user}@example.com",
                    "roles": roles,
                    "joined_at": "2026-11-27T10:00:00Z",
                },
            )
        for user in joined:
            for _ in range(200):
                if await self.service.store.actor(account, user) is not None:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError(f"projection never learned {user} of {account}")

    async def invite(
        self, account: str, email: str, actor: str = "owner-1", **extra: Any
    ) -> dict[str, Any]:
        event = await self.outcome(
            "InviteTeamMember", account, {"email": email, "roles": ["practitioner"], **extra}, actor
        )
        assert event["type"] == "InvitationCreated", event
        return event


def settings_for(servers: Servers, unique: str, **overrides: Any) -> InvitationsSettings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": servers.kafka_bootstrap,
        "mongodb_uri": servers.mongodb_uri,
        "mongodb_db": f"invitations_{unique}",
        "kafka_group_id": f"invitations-{unique}",
        "projection_grace_seconds": 0.3,
        "expiry_sweep_seconds": 3600,
        "outbox_sweep_seconds": 1,
        **overrides,
    }
    return InvitationsSettings(**values)


@pytest.fixture
async def harness(
    servers: Servers, unique: str, request: pytest.FixtureRequest
) -> AsyncIterator[Harness]:
    overrides = getattr(request, "param", {})
    settings = settings_for(servers, unique, **overrides)
    await position_group_at_end(
        servers.kafka_bootstrap, settings.kafka_group_id, [INVITATIONS_COMMANDS, MEMBERSHIP_EVENTS]
    )
    producer = AIOKafkaProducer(bootstrap_servers=servers.kafka_bootstrap, acks="all")
    await producer.start()
    events = await open_tap(servers.kafka_bootstrap, INVITATIONS_EVENTS)
    dlq = await open_tap(servers.kafka_bootstrap, INVITATIONS_COMMANDS + ".dlq")
    clock = MovableClock()
    service = build(settings, clock)
    try:
        async with service.runtime.running():
            yield Harness(service, clock, Gateway(producer), events, dlq, unique)
    finally:
        await close_tap(events)
        await close_tap(dlq)
        await producer.stop()


def new_command_id() -> str:
    return new_id()
