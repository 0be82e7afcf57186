"""The access_control service in this process; its API over ASGI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from contracts.messages import ClientVisibilityChanged
from contracts.topics import ACCESS_CONTROL_COMMANDS, ACCESS_CONTROL_EVENTS, MEMBERSHIP_EVENTS
from services.access_control.app import build
from services.access_control.settings import AccessControlSettings
from services.access_control.visibility import apply
from tests.harness import Running, base_settings, running_service
from tests.servers import Servers

ACKNOWLEDGEMENTS = {
    "RegisterClient": "ClientRegistered",
    "SetClientSecurityTags": "ClientSecurityTagsSet",
    "RemoveClient": "ClientRemoved",
    "SetMemberSecurityTags": "MemberSecurityTagsSet",
}


def joined_data(member: str, roles: list[str], tags: list[str] | None = None) -> dict[str, Any]:
    """A MemberJoined's data, as membership publishes it."""
    return {
        "member_id": member,
        "email": f"{member}@example.com",
        "roles": roles,
        "invitation_id": None,
        "joined_at": "2026-11-27T10:00:00Z",
        "security_tags": tags,
    }


def disconnected_data(member: str, roles: list[str], by: str = "owner-1") -> dict[str, Any]:
    """A MemberDisconnected's data, as membership publishes it."""
    return {
        "member_id": member,
        "email": f"{member}@example.com",
        "roles": roles,
        "disconnected_by": by,
        "disconnected_at": "2026-11-27T12:00:00Z",
    }


class AccessHarness(Running):
    async def member_event(self, type_: str, account: str, data: dict[str, Any]) -> str:
        return await self.gateway.send(MEMBERSHIP_EVENTS, type_, account, data)

    async def joined(self, account: str, member: str, roles: list[str]) -> None:
        await self.member_event("MemberJoined", account, joined_data(member, roles))
        for _ in range(200):
            doc = await self.service.store.member(account, member)
            if doc and doc.get("status") == "active":
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{member} never joined")

    async def ok(
        self, type_: str, account: str, data: dict[str, Any], actor: str = "owner-1"
    ) -> list[dict[str, Any]]:
        """Send a command that must succeed; returns the visibility events it caused."""
        command_id = await self.command(type_, account, data, actor)
        for _ in range(300):
            doc = (
                await self.service.store.client(account, data["client_id"])
                if "client_id" in data
                else await self.service.store.member(account, data["member_id"])
            )
            if doc and command_id in doc.get("handled_commands", []) and not doc.get("outbox"):
                break
            rejected = [
                e
                for e in self.events.envelopes(account)
                if e["causationid"] == command_id and e["type"] == "CommandRejected"
            ]
            assert not rejected, rejected
            await asyncio.sleep(0.05)
        await self.events.settle(0.3)
        caused = [e for e in self.events.envelopes(account) if e["causationid"] == command_id]
        assert caused and caused[0]["type"] == ACKNOWLEDGEMENTS[type_], caused  # its outcome
        return [e for e in caused if e["type"] == "ClientVisibilityChanged"]

    def downstream_view(self, account: str) -> dict[str, set[str]]:
        view: dict[str, set[str]] = {}
        for e in self.events.envelopes(account):
            if e["type"] == "ClientVisibilityChanged":
                apply(view, ClientVisibilityChanged.model_validate(e["data"]))
        return view

    async def get(self, path: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.ASGITransport(app=self.service.runtime.http_app())
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.get(path, headers=headers)

    async def visible(self, account: str, member: str, limit: int = 1000) -> list[str]:
        return await self.paged(f"/accounts/{account}/members/{member}/visible-clients", limit)

    async def paged(self, path: str, limit: int) -> list[Any]:
        """Every `clients` item of a paged answer, following `next` to the end."""
        found: list[Any] = []
        after = ""
        for _ in range(1000):  # a cursor that goes back would page forever: fail instead
            response = await self.get(f"{path}?limit={limit}&after={after}")
            assert response.status_code == 200, response.text
            body = response.json()
            found += body["clients"]
            if body["next"] is None:
                return found
            after = body["next"]
        raise AssertionError(f"{path}: the pages did not end after 1,000: {found[-5:]}")


@pytest.fixture
async def access(
    servers: Servers, unique: str, request: pytest.FixtureRequest
) -> AsyncIterator[AccessHarness]:
    settings = AccessControlSettings(
        **{
            **base_settings(servers, "access_control", unique),
            "projection_grace_seconds": 0.3,
            **getattr(request, "param", {}),
        }
    )
    async with running_service(
        servers,
        unique,
        lambda clock: build(settings),
        settings.kafka_group_id,
        [ACCESS_CONTROL_COMMANDS, MEMBERSHIP_EVENTS],
        ACCESS_CONTROL_COMMANDS,
        ACCESS_CONTROL_EVENTS,
        AccessHarness,
    ) as harness:
        yield harness
