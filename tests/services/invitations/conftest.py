"""The invitations service running in this process against the real broker and FerretDB."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from contracts.topics import (
    INVITATIONS_COMMANDS,
    INVITATIONS_EVENTS,
    INVITATIONS_LINKS,
    MEMBERSHIP_EVENTS,
)
from services.invitations.app import build
from services.invitations.settings import InvitationsSettings
from tests.harness import Running, base_settings, running_service
from tests.kafka_tools import Tap, close_tap, open_tap
from tests.servers import Servers


class Harness(Running):
    links: Tap | None = None  # invitations.links, the private topic with the raw tokens

    async def outcome(
        self, type_: str, account: str, data: dict[str, Any], actor: str | None = None
    ) -> dict[str, Any]:
        """The command's public outcome. For InvitationCreated/Resent, which carry no secret,
        `data.accept_token` is filled in from the InvitationLinkIssued the same command
        published on the private topic: the token the invitee's email carries."""
        event = await super().outcome(type_, account, data, actor)
        if event["type"] in ("InvitationCreated", "InvitationResent"):
            assert "accept_token" not in event["data"], "a token on the public topic"
            event["data"]["accept_token"] = await self.token_of(event)
        return event

    async def token_of(self, event: dict[str, Any]) -> str:
        assert self.links is not None
        issued = await self.links.wait_for(
            lambda e: (
                e["causationid"] == event["causationid"]
                and e["data"]["invitation_id"] == event["data"]["invitation_id"]
            )
        )
        return str(issued[0]["data"]["accept_token"])

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
        **base_settings(servers, "invitations", unique),
        "projection_grace_seconds": 0.3,
        "expiry_sweep_seconds": 3600,
        **overrides,
    }
    return InvitationsSettings(**values)


@pytest.fixture
async def harness(
    servers: Servers, unique: str, request: pytest.FixtureRequest
) -> AsyncIterator[Harness]:
    settings = settings_for(servers, unique, **getattr(request, "param", {}))
    async with running_service(
        servers,
        unique,
        lambda clock: build(settings, clock),
        settings.kafka_group_id,
        [INVITATIONS_COMMANDS, MEMBERSHIP_EVENTS],
        INVITATIONS_COMMANDS,
        INVITATIONS_EVENTS,
        Harness,
    ) as harness:
        harness.links = await open_tap(servers.kafka, INVITATIONS_LINKS)
        try:
            yield harness
        finally:
            await close_tap(harness.links)
