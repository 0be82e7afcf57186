"""access_control's record of its own decisions: every grant and revoke, with when, the cause
(event id and type), the actor and the reason. Records travel in the aggregate's outbox like the
events they describe and are written to the `access_history` collection once their publish has
begun (by the relay, if that fails), so a decision and its record are never apart (idempotent on
the record's id). A handler's answer does not wait for its record, and the outbox is cleared once
it is written (a record naming 400 clients costs DocumentDB several milliseconds of index
updates); records wait up to `OUTBOX_BATCH_MS` to go together. The readers here wait for the
records this process is still writing, and do not wait out that window.

One stored record holds the entries (one member's grants and revokes) of one decision, up to
`RECORD_IDS` client ids, with the members and clients it names in two indexed lists: on
DocumentDB each stored document costs an update of every index, so a client's change that moves
25 members' answers writes one document, not 25 (1.4 against 7.4 ms measured)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, Field

from contracts.common import Timestamp
from contracts.envelope import MessageData
from contracts.messages import MAX_VISIBILITY_IDS
from services.runtime.collection import Collection, Document, Index
from services.runtime.rules import Emit

log = logging.getLogger(__name__)

HISTORY_TOPIC = "local.access_history"  # never on Kafka: Outbox.local writes it to the database
COLLECTION = "access_history"
INDEXES = (
    Index(("account_id", "members", "seq")),
    Index(("account_id", "clients", "seq")),
)
# One document per entry, before records held entries (`upgrade` converts them).
RETIRED_INDEXES = (
    Index(("account_id", "member_id", "seq")),
    Index(("account_id", "granted", "seq")),
    Index(("account_id", "revoked", "seq")),
)
RECORD_IDS = 2 * MAX_VISIBILITY_IDS  # what one visibility message may name: one entry fits


@dataclass(frozen=True)
class Because:
    """What a decision answers to, for its record."""

    cause_type: str
    actor_id: str | None
    at: datetime

    @property
    def seq(self) -> int:
        """Orders one account's records (its messages are decided one at a time)."""
        return int(self.at.timestamp() * 1_000_000)


class Entry(BaseModel):
    """One member's grants and revokes in a decision, with why each granted client is seen."""

    member_id: str
    granted: list[str] = Field(default_factory=list)
    revoked: list[str] = Field(default_factory=list)
    reasons: dict[str, str] = Field(default_factory=dict)  # granted client -> Why.label()

    @property
    def size(self) -> int:
        return len(self.granted) + len(self.revoked)


class AccessRecorded(MessageData):
    entries: list[Entry]
    cause_type: str
    actor_id: str | None = None
    at: Timestamp
    seq: int


def records(entries: Sequence[Entry], because: Because) -> list[Emit]:
    """The decision's entries, in order, packed into records of at most `RECORD_IDS` ids."""
    packs: list[list[Entry]] = []
    room = 0
    for entry in entries:
        if not packs or entry.size > room:
            packs.append([])
            room = RECORD_IDS
        packs[-1].append(entry)
        room -= entry.size
    return [
        Emit(record_of(pack, because, part), topic=HISTORY_TOPIC, id_parts=("record", str(part)))
        for part, pack in enumerate(packs)
    ]


def record_of(entries: list[Entry], because: Because, part: int) -> AccessRecorded:
    """`part`: the record's place among its decision's (after the cause's time, what sorts
    them)."""
    return AccessRecorded(
        entries=entries,
        cause_type=because.cause_type,
        actor_id=because.actor_id,
        at=because.at,
        seq=because.seq * 1000 + min(part, 999),
    )


def stored(record_id: str, account_id: str, cause_id: str | None, data: AccessRecorded) -> Document:
    """The stored form of a record: its entries and the members and clients they name."""
    entries = [entry.model_dump() for entry in data.entries]
    return {
        "_id": record_id,
        "account_id": account_id,
        "cause_id": cause_id,
        "cause_type": data.cause_type,
        "actor_id": data.actor_id,
        "at": data.at,
        "seq": data.seq,
        **_names(entries),
        "entries": entries,
    }


def document(entry: Document) -> Document:
    """The stored record of an outbox entry (one the earlier version left unpublished in an
    aggregate's outbox, of the retired one-entry shape, too)."""
    event = json.loads(entry["value"])
    fields = event["data"]
    if "entries" not in fields:
        fields = {**fields, "entries": [_retired_entry(fields)]}
    data = AccessRecorded.model_validate(fields)
    cause = event.get("causationid") or event.get("correlationid")
    return stored(event["id"], event["accountid"], cause, data)


def upgraded(doc: Document) -> Document:
    """The fields a one-entry document of the retired shape gains: its entry and names."""
    entry = _retired_entry(doc)
    return {**_names([entry]), "entries": [entry]}


def _retired_entry(fields: Document) -> Document:
    return {
        "member_id": fields["member_id"],
        "granted": fields.get("granted", []),
        "revoked": fields.get("revoked", []),
        "reasons": fields.get("reasons", {}),
    }


def _names(entries: list[Document]) -> Document:
    clients = {client for e in entries for client in (*e["granted"], *e["revoked"])}
    return {
        "members": sorted({e["member_id"] for e in entries}),
        "clients": sorted(clients),
    }


class History:
    def __init__(self, collection: Collection, written: Callable[[], Awaitable[None]]) -> None:
        """`written`: waits for the records this process is still writing (its outbox's local
        entries land after the decision's events are published), so that an answer includes
        every decision this process has published."""
        self.collection = collection
        self._written = written

    async def write(self, entries: list[Document]) -> None:
        """The outbox's local sink: a repeated flush finds the records there already."""
        await self.collection.insert_all([document(entry) for entry in entries])

    async def of_member(
        self, account_id: str, member_id: str, since: datetime | None, until: datetime | None
    ) -> list[Document]:
        """The member's entries, oldest first, each with its record's cause, actor and time."""
        where: Document = {"account_id": account_id, "members": member_id, **_between(since, until)}
        await self._written()
        return [
            {**_about(doc), **entry}
            for doc in sorted(await self.collection.find(where), key=_order)
            for entry in doc["entries"]
            if entry["member_id"] == member_id
        ]

    async def of_client(
        self, account_id: str, client_id: str, since: datetime | None, until: datetime | None
    ) -> list[Document]:
        """One entry per grant or revoke of this client, oldest first."""
        where: Document = {"account_id": account_id, "clients": client_id, **_between(since, until)}
        await self._written()
        return [
            {
                **_about(doc),
                "member_id": entry["member_id"],
                "change": "granted" if client_id in entry["granted"] else "revoked",
                "reason": entry["reasons"].get(client_id),
            }
            for doc in sorted(await self.collection.find(where), key=_order)
            for entry in doc["entries"]
            if client_id in entry["granted"] or client_id in entry["revoked"]
        ]

    async def visible_as_of(self, account_id: str, member_id: str, moment: datetime) -> set[str]:
        return replay(await self.of_member(account_id, member_id, None, moment))

    async def record(self, docs: Iterable[Document]) -> None:
        """Records written directly (a repair's): idempotent on their ids."""
        await self.collection.insert_all(list(docs))

    async def upgrade(self) -> None:
        """Converts records of the retired one-entry shape, then drops their indexes; their
        presence is the sign that there may be any (nothing to do, no scan, otherwise).
        Safe to repeat or to run in two instances at once."""
        present = await self.collection.index_fields()
        retired = [index for index in RETIRED_INDEXES if index.fields in present]
        if not retired:
            return
        converted, after = 0, ""
        while True:  # one walk of the primary key, a page at a time
            where = {"_id": {"$gt": after}, "entries": {"$exists": False}}
            old = await self.collection.find(where, sort="_id", limit=1000)
            if not old:
                break
            # at once: the collection sends concurrent updates as one bulk write
            await asyncio.gather(
                *(self.collection.upsert_fields(doc["_id"], upgraded(doc)) for doc in old)
            )
            converted, after = converted + len(old), old[-1]["_id"]
        for index in retired:
            await self.collection.drop_index(index)
        log.info("access history: %d records of the retired shape converted", converted)


def _about(doc: Document) -> Document:
    """What a record says of all its entries."""
    fields = ("at", "cause_id", "cause_type", "actor_id")
    return {name: doc.get(name) for name in fields}


def _order(doc: Document) -> tuple[int, str]:
    """Sorted here, not by the query: one client's records are few, and a sort would cost the
    database more than the read."""
    return doc["seq"], doc["_id"]


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
