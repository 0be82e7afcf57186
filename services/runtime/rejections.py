"""CommandRejected, exactly once per command id, through the same outbox as other events."""

from __future__ import annotations

from typing import Any

from contracts.common import RejectionReason, utc_now
from contracts.envelope import CloudEvent, RawEnvelope
from contracts.messages import CommandRejected
from services.runtime.collection import Collection, Document
from services.runtime.events import Cause, caused_by
from services.runtime.outbox import Outbox, outbox_entry
from services.runtime.rules import Emit


def rejection_event(
    command: RawEnvelope, source: str, reason: RejectionReason, detail: str
) -> CloudEvent[Any]:
    rejected = CommandRejected(
        command_id=command.id, command_type=command.type, reason=reason, detail=detail[:1000]
    )
    return caused_by(Cause.of(command), source, Emit(rejected))


class Rejections:
    """One document per rejected command id: a redelivered command is rejected only once."""

    def __init__(self, collection: Collection, outbox: Outbox, source: str, topic: str) -> None:
        self.collection = collection
        self.outbox = outbox
        self.source = source
        self.topic = topic

    async def was_rejected(self, command_id: str) -> bool:
        doc = await self.collection.get(command_id)
        if doc is None:
            return False
        await self._answer_again(doc)
        return True

    async def reject(self, command: RawEnvelope, reason: RejectionReason, detail: str) -> None:
        event = rejection_event(command, self.source, reason, detail)
        entry = outbox_entry(self.topic, event)
        doc: Document = {
            "_id": command.id,
            "version": 1,
            "accountid": command.accountid,
            "command_type": command.type,
            "reason": reason.value,
            "at": utc_now(),
            "outbox": [entry],
            "outcome": entry,
        }
        if await self.collection.insert(doc):
            await self.outbox.flush(self.collection, doc)
            return
        existing = await self.collection.get(command.id)
        if existing is not None:
            await self._answer_again(existing)

    async def _answer_again(self, doc: Document) -> None:
        """A redelivered rejected command: its CommandRejected again, with the same id."""
        if doc.get("outbox"):
            await self.outbox.flush(self.collection, doc)  # never went out: now it does
        elif doc.get("outcome"):
            await self.outbox.republish(doc["outcome"])
