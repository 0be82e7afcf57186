"""Dispatch keyed by message class: one table per service, built once at wiring time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from contracts.envelope import MessageData, RawEnvelope
from services.runtime.events import Cause
from services.runtime.inbound import Parsed
from services.runtime.keyed_locks import KeyedLocks
from services.runtime.projection import ProjectionBehind, account_turn
from services.runtime.rules import Refusal
from services.runtime.unit_of_work import AlreadyApplied, UnitOfWork, UnitOfWorkFactory

M = TypeVar("M", bound=MessageData)
# How long a message whose projection is behind leaves its account's turn to the others.
TURN_RETRY_SECONDS = 0.1


@dataclass(frozen=True)
class Message(Generic[M]):
    """A parsed message: its envelope and its validated `data`, typed."""

    envelope: RawEnvelope
    data: M

    @property
    def account_id(self) -> str:
        return self.envelope.accountid


Handler = Callable[[Message[M], UnitOfWork], Awaitable[None]]


class Dispatch:
    """`one_account_at_a_time`: messages of one account wait for each other even when they
    arrive on different topics (a service whose decisions read facts written by both). A
    handler whose projection lags (`with_grace` raises `ProjectionBehind` in a turn) gives its
    account's turn up and tries again a moment later, so the event it waits for can run."""

    def __init__(self, unit_of_work: UnitOfWorkFactory, one_account_at_a_time: bool = False):
        self.unit_of_work = unit_of_work
        self._table: dict[type[BaseModel], Handler[Any]] = {}
        self._locks = KeyedLocks() if one_account_at_a_time else None

    def on(self, model: type[M], handler: Handler[M]) -> Dispatch:
        if model in self._table:
            raise ValueError(f"{model.__name__} has a handler already")
        self._table[model] = handler
        return self

    def missing(self, models: Iterable[type[BaseModel]]) -> list[str]:
        return [model.__name__ for model in models if model not in self._table]

    async def __call__(self, parsed: Parsed) -> None:
        """Run the handler of the message's exact class (other classes are not ours)."""
        handler = self._table.get(type(parsed.data))
        if handler is None:
            return
        message = Message[Any](parsed.envelope, parsed.data)
        if self._locks is None:
            await self._run(handler, message)
            return
        while True:
            async with self._locks.hold(message.account_id):
                try:
                    with account_turn():
                        await self._run(handler, message)
                    return
                except ProjectionBehind:
                    pass  # the account's other records (the event it waits for) go first
            await asyncio.sleep(TURN_RETRY_SECONDS)

    async def _run(self, handler: Handler[Any], message: Message[Any]) -> None:
        # A decision from a document kept in memory that wrote nothing (see `kept_documents`)
        # is made again from the database: only a write confirms what was kept.
        for use_kept in (True, False):
            uow = self.unit_of_work(Cause.of(message.envelope))
            uow.use_kept = use_kept
            try:
                await handler(message, uow)
            except AlreadyApplied:
                return
            except Refusal:
                if not uow.forget_unconfirmed():
                    raise
            else:
                if not uow.forget_unconfirmed():
                    return
