"""Reading a projection of another service's events, which may lag a little behind."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any, TypeVar

from services.runtime.clock import Clock
from services.runtime.collection import Collection

T = TypeVar("T")
_IN_ACCOUNT_TURN: ContextVar[bool] = ContextVar("in_account_turn", default=False)


class ProjectionBehind(Exception):
    """Raised by `with_grace` instead of waiting inside an account's turn: the event it waits
    for may be that account's next record on another topic, which cannot run while the turn is
    held. `Dispatch(one_account_at_a_time=True)` gives the turn up and tries again."""


@contextlib.contextmanager
def account_turn() -> Iterator[None]:
    """The code inside runs in its account's turn (see `ProjectionBehind`)."""
    token = _IN_ACCOUNT_TURN.set(True)
    try:
        yield
    finally:
        _IN_ACCOUNT_TURN.reset(token)


async def with_grace(
    lookup: Callable[[], Awaitable[T | None]], sent_at: datetime, grace: float, clock: Clock
) -> T | None:
    """`lookup()`, retried while it finds nothing and the command is younger than `grace`
    seconds: a command may arrive a moment before the event (on another topic) that makes its
    actor known. An older command (a backlog) gets no wait: the projection had its time.
    Inside an account's turn it does not wait: it raises `ProjectionBehind`."""

    def young() -> bool:
        return clock.now() < sent_at + timedelta(seconds=grace)

    found = await lookup()
    while found is None and young():
        if _IN_ACCOUNT_TURN.get():
            raise ProjectionBehind(f"nothing found for a message sent at {sent_at}")
        await asyncio.sleep(0.1)
        found = await lookup()
    return found


class AccountNames:
    """Account names as ProAccountRegistered announced them (for emails and event payloads)."""

    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def get(self, account_id: str) -> str | None:
        doc = await self.collection.get(account_id)
        return None if doc is None else str(doc["name"])

    async def put(self, account_id: str, name: str, **more: str) -> None:
        await self.collection.upsert_fields(account_id, {"name": name, **more})

    async def preferences(self, account_id: str) -> dict[str, Any]:
        """The account's preferences as AccountPreferencesSet last stated them ({}: none)."""
        doc = await self.collection.get(account_id)
        return dict((doc or {}).get("preferences") or {})

    async def put_preferences(self, account_id: str, preferences: dict[str, Any]) -> None:
        await self.collection.upsert_fields(account_id, {"preferences": preferences})
