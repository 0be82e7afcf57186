"""access_control's record of its own decisions: every grant and revoke, with when, the cause
(event id and type), the actor and the reason. Entries travel in the aggregate's outbox like the
events they describe and are written to the `access_history` collection by the relay, so a
decision and its record are never apart (idempotent on the entry's id)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pydantic import Field

from contracts.common import Timestamp
from contracts.envelope import MessageData
from services.runtime.collection import Collection, Document, Index
from services.runtime.rules import Emit

HISTORY_TOPIC = "local.access_history"  # never on Kafka: Outbox.local writes it to the database
COLLECTION = "access_history"
INDEXES = (
    Index(("account_id", "member_id", "seq")),
    Index(("account_id", "granted", "seq")),
    Index(("account_id", "revoked", "seq")),
)


@dataclass(frozen=True)
class Because:
    """What a decision answers to, for its record."""

    cause_type: str
    actor_id: str | None
    at: datetime

    @property
    def seq(self) -> int:
        """Orders one account's entries (its messages are decided one at a time)."""
        return int(self.at.timestamp() * 1_000_000)


class AccessRecorded(MessageData):
    member_id: str
    granted: list[str] = Field(default_factory=list)
    revoked: list[str] = Field(default_factory=list)
    reasons: dict[str, str] = Field(default_factory=dict)  # granted client -> Why.label()
    cause_type: str
    actor_id: str | None = None
    at: Timestamp
    seq: int


def recorded(
    member_id: str,
    granted: list[str],
    revoked: list[str],
    reasons: dict[str, str],
    because: Because,
    part: int,
    order: int = 0,
) -> Emit:
    """`part`: the message's index among the member's (its id); `order`: its place among all
    the records of the same cause (after the cause's time, what sorts them)."""
    data = AccessRecorded(
        member_id=member_id,
        granted=granted,
        revoked=revoked,
        reasons=reasons,
        cause_type=because.cause_type,
        actor_id=because.actor_id,
        at=because.at,
        seq=because.seq * 1000 + min(order, 999),
    )
    return Emit(data, topic=HISTORY_TOPIC, id_parts=(member_id, str(part)))


def document(entry: Document) -> Document:
    """The stored record of an outbox entry."""
    event = json.loads(entry["value"])
    data = AccessRecorded.model_validate(event["data"])
    return {
        "_id": event["id"],
        "account_id": event["accountid"],
        "cause_id": event.get("causationid") or event.get("correlationid"),
        **data.model_dump(),
    }


class History:
    def __init__(self, collection: Collection) -> None:
        self.collection = collection

    async def write(self, entries: list[Document]) -> None:
        """The outbox's local sink: a repeated flush finds the records there already."""
        await self.collection.insert_all([document(entry) for entry in entries])

    async def of_member(
        self, account_id: str, member_id: str, since: datetime | None, until: datetime | None
    ) -> list[Document]:
        where: Document = {
            "account_id": account_id,
            "member_id": member_id,
            **_between(since, until),
        }
        return sorted(await self.collection.find(where), key=_order)

    async def of_client(
        self, account_id: str, client_id: str, since: datetime | None, until: datetime | None
    ) -> list[Document]:
        """One entry per grant or revoke of this client, oldest first."""
        where: Document = {
            "account_id": account_id,
            "$or": [{"granted": client_id}, {"revoked": client_id}],
            **_between(since, until),
        }
        return [
            {
                "at": doc["at"],
                "member_id": doc["member_id"],
                "change": "granted" if client_id in doc["granted"] else "revoked",
                "reason": doc["reasons"].get(client_id),
                "cause_id": doc["cause_id"],
                "cause_type": doc["cause_type"],
                "actor_id": doc.get("actor_id"),
            }
            for doc in sorted(await self.collection.find(where), key=_order)
        ]

    async def visible_as_of(self, account_id: str, member_id: str, moment: datetime) -> set[str]:
        return replay(await self.of_member(account_id, member_id, None, moment))

    async def record(self, docs: Iterable[Document]) -> None:
        """Entries written directly (a repair's): idempotent on their ids."""
        await self.collection.insert_all(list(docs))


def _order(entry: Document) -> tuple[int, str]:
    """Sorted here, not by the query: one client's entries are few, and a sort would cost the
    database more than the read."""
    return entry["seq"], entry["_id"]


def replay(entries: Iterable[Document]) -> set[str]:
    seen: set[str] = set()
    for entry in entries:
        seen.difference_update(entry["revoked"])
        seen.update(entry["granted"])
    return seen


def _between(since: datetime | None, until: datetime | None) -> Document:
    bounds: Document = {}
    if since is not None:
        bounds["$gte"] = since
    if until is not None:
        bounds["$lte"] = until
    return {"at": bounds} if bounds else {}
