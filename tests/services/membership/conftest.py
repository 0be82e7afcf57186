"""The membership service in this process, real broker and FerretDB, the Users page over ASGI."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from contracts.topics import INVITATIONS_EVENTS, MEMBERSHIP_COMMANDS, MEMBERSHIP_EVENTS
from services.membership.app import build
from services.runtime.settings import ServiceSettings
from tests.harness import Running, base_settings, running_service
from tests.servers import Servers

EXPIRES = "2026-12-04T10:00:00.000Z"


class MembershipHarness(Running):
    async def register(self, account: str, owner: str = "owner-1") -> None:
        outcome = await self.outcome(
            "RegisterProAccount",
            account,
            {
                "account_name": f"Practice {account}",
                "owner_user_id": owner,
                "owner_email": f"{owner}@example.com",
                "owner_name": "Olive Owner",
            },
            actor=owner,
        )
        assert outcome["type"] == "ProAccountRegistered", outcome

    async def invitation_event(self, type_: str, account: str, data: dict[str, Any]) -> None:
        """What the invitations service would publish."""
        await self.gateway.send(INVITATIONS_EVENTS, type_, account, data)

    async def invited(self, account: str, email: str, roles: list[str] | None = None) -> str:
        invitation_id = str(uuid.uuid4())
        await self.invitation_event(
            "InvitationCreated",
            account,
            {
                "invitation_id": invitation_id,
                "email": email,
                "roles": roles or ["practitioner"],
                "message": "hi",
                "invitee_name": "Ann",
                "inviter_id": "owner-1",
                "inviter_name": "Olive",
                "account_name": "Practice",
                "expires_at": EXPIRES,
                "accept_token": "secret-token-never-on-membership-events",
            },
        )
        await self.wait_row(account, email, "pending")
        return invitation_id

    async def accepted(
        self,
        account: str,
        email: str,
        invitation_id: str,
        user: str,
        roles: list[str] | None = None,
    ) -> dict[str, Any]:
        await self.invitation_event(
            "InvitationAccepted",
            account,
            {
                "invitation_id": invitation_id,
                "email": email,
                "roles": roles or ["practitioner"],
                "user_id": user,
                "name": "Ann Coach",
                "invited_by": "owner-1",
                "accepted_at": "2026-11-27T12:00:00.000Z",
            },
        )
        joined = await self.events.wait_for(
            lambda e: e["type"] == "MemberJoined" and e["data"]["invitation_id"] == invitation_id
        )
        return joined[0]

    async def join(self, account: str, user: str, roles: list[str] | None = None) -> None:
        email = f"{user}@example.com"
        await self.accepted(account, email, await self.invited(account, email, roles), user, roles)

    async def users(
        self, account: str, status: str | None = None, token: str | None = None
    ) -> httpx.Response:
        app = self.service.runtime.http_app()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            params = {"status": status} if status else {}
            return await client.get(f"/accounts/{account}/users", params=params, headers=headers)

    async def rows(self, account: str, status: str | None = None) -> list[dict[str, Any]]:
        response = await self.users(account, status)
        assert response.status_code == 200, response.text
        return list(response.json()["users"])

    async def wait_row(self, account: str, email: str, status: str | None) -> dict[str, Any] | None:
        import asyncio

        for _ in range(300):
            found = [r for r in await self.rows(account) if r["email"] == email]
            if status is None and not found:
                return None
            if found and found[0]["status"] == status:
                return found[0]
            await asyncio.sleep(0.05)
        raise AssertionError(f"{email} never became {status}: {await self.rows(account)}")


@pytest.fixture
async def membership(
    servers: Servers, unique: str, request: pytest.FixtureRequest
) -> AsyncIterator[MembershipHarness]:
    settings = ServiceSettings(
        **{**base_settings(servers, "membership", unique), **getattr(request, "param", {})}
    )
    async with running_service(
        servers,
        unique,
        lambda clock: build(settings, clock),
        settings.kafka_group_id,
        [MEMBERSHIP_COMMANDS, INVITATIONS_EVENTS],
        MEMBERSHIP_COMMANDS,
        MEMBERSHIP_EVENTS,
        MembershipHarness,
    ) as harness:
        yield harness
