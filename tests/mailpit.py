"""Read emails back from a Mailpit server's HTTP API."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tests.http_clients import local_client


@dataclass
class Mailbox:
    url: str

    async def _get(self, path: str) -> Any:
        async with local_client(self.url, timeout=10) as client:
            response = await client.get(path)
            response.raise_for_status()
            return (
                response.json()
                if "json" in response.headers.get("content-type", "")
                else response.text
            )

    async def delete_to(self, address: str) -> None:
        """Deletes every message to an address containing `address`."""
        async with local_client(self.url, timeout=60) as client:
            response = await client.delete(f"/api/v1/search?query={quote(f'to:{address}')}")
            response.raise_for_status()

    async def messages_to(self, address: str) -> list[dict[str, Any]]:
        found = await self._get(f"/api/v1/search?query={quote(f'to:{address}')}&limit=50")
        return list(found["messages"])

    async def wait_for(
        self, address: str, count: int = 1, timeout: float = 30
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = await self.messages_to(address)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{len(found)} emails to {address} after {timeout}s, wanted {count}"
                )
            await asyncio.sleep(0.2)

    async def message(self, message_id: str) -> dict[str, Any]:
        return dict(await self._get(f"/api/v1/message/{message_id}"))

    async def headers(self, message_id: str) -> dict[str, list[str]]:
        return dict(await self._get(f"/api/v1/message/{message_id}/headers"))

    async def raw(self, message_id: str) -> str:
        return str(await self._get(f"/api/v1/message/{message_id}/raw"))
