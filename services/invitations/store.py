"""The invitations service's MongoDB: invitations (with their outbox), and its projection of
membership.events (accounts, members)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from contracts.common import Role
from services.invitations.domain import Actor, Invitation, Link, Status
from services.runtime.documents import insert_new, remember_command, replace_versioned
from services.runtime.mongo import Document


class AlreadyStored(Exception):
    """The invitation exists: its command was applied before (a redelivery)."""


class SlotTaken(Exception):
    """Another invitation for the same email in the same account is pending."""


def slot(inv: Invitation) -> str:
    """Unique per account+email while pending; unique per invitation otherwise.

    A unique index on this field makes "one pending invitation per email" hold even if two
    instances race. Closed invitations get a key of their own rather than a partial index: FerretDB
    v2.5 does not honour `partialFilterExpression` on a unique index (measured).
    """
    if inv.status is Status.PENDING:
        return f"pending|{inv.account_id}|{inv.email}"
    return f"closed|{inv.id}"


def to_document(inv: Invitation) -> Document:
    doc = asdict(inv)
    doc["_id"] = doc.pop("id")
    doc["status"] = inv.status.value
    doc["roles"] = [r.value for r in inv.roles]
    doc["links"] = [
        {"token_hash": link.token_hash, "issued_at": link.issued_at} for link in inv.links
    ]
    doc["slot"] = slot(inv)
    return doc


def from_document(doc: Document) -> Invitation:
    return Invitation(
        id=doc["_id"],
        account_id=doc["account_id"],
        account_name=doc["account_name"],
        email=doc["email"],
        roles=tuple(Role(r) for r in doc["roles"]),
        message=doc.get("message"),
        invitee_name=doc.get("invitee_name"),
        inviter_id=doc["inviter_id"],
        inviter_name=doc.get("inviter_name"),
        status=Status(doc["status"]),
        created_at=doc["created_at"],
        expires_at=doc["expires_at"],
        last_sent_at=doc["last_sent_at"],
        resend_count=doc.get("resend_count", 0),
        links=tuple(Link(link["token_hash"], link["issued_at"]) for link in doc.get("links", [])),
        accepted_by=doc.get("accepted_by"),
        accepted_at=doc.get("accepted_at"),
        revoked_by=doc.get("revoked_by"),
    )


class InvitationStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.invitations: AsyncCollection[Document] = db["invitations"]
        self.accounts: AsyncCollection[Document] = db["accounts"]
        self.members: AsyncCollection[Document] = db["members"]

    async def create_indexes(self) -> None:
        await self.invitations.create_index("slot", unique=True)
        await self.invitations.create_index([("account_id", ASCENDING), ("created_at", ASCENDING)])
        await self.invitations.create_index([("status", ASCENDING), ("expires_at", ASCENDING)])
        await self.members.create_index([("account_id", ASCENDING), ("email", ASCENDING)])

    # ---- invitations -----------------------------------------------------------------------

    async def get(self, invitation_id: str) -> Document | None:
        return await self.invitations.find_one({"_id": invitation_id})

    async def pending_for(self, account_id: str, email: str) -> Document | None:
        return await self.invitations.find_one({"slot": f"pending|{account_id}|{email}"})

    async def created_since(self, account_id: str, since: datetime) -> int:
        return await self.invitations.count_documents(
            {"account_id": account_id, "created_at": {"$gte": since}}
        )

    async def overdue(self, now: datetime, limit: int = 500) -> list[Document]:
        cursor = self.invitations.find(
            {"status": Status.PENDING.value, "expires_at": {"$lte": now}}
        ).limit(limit)
        return await cursor.to_list(None)

    async def insert(
        self, inv: Invitation, command_id: str | None, outbox: list[Document]
    ) -> Document:
        doc = {**to_document(inv), "outbox": outbox}
        if command_id:
            remember_command(doc, command_id)
        try:
            if not await insert_new(self.invitations, doc):
                raise AlreadyStored(inv.id)
        except DuplicateKeyError as exc:
            raise SlotTaken(inv.email) from exc
        return doc

    async def update(
        self, current: Document, inv: Invitation, command_id: str | None, outbox: list[Document]
    ) -> Document:
        """Versioned write of the new state plus its events; raises VersionConflict/SlotTaken."""
        doc = {
            **current,
            **to_document(inv),
            "outbox": [*current.get("outbox", []), *outbox],
        }
        if command_id:
            remember_command(doc, command_id)
        try:
            return await replace_versioned(self.invitations, doc)
        except DuplicateKeyError as exc:
            raise SlotTaken(inv.email) from exc

    async def add_link(self, invitation_id: str, token_hash: str, at: datetime) -> None:
        """A link minted by the relay after a crash (see app.render_outbox_entry)."""
        await self.invitations.update_one(
            {"_id": invitation_id},
            {"$push": {"links": {"token_hash": token_hash, "issued_at": at}}},
        )

    # ---- projection of membership.events ---------------------------------------------------

    async def account_name(self, account_id: str) -> str | None:
        doc = await self.accounts.find_one({"_id": account_id})
        return None if doc is None else str(doc["name"])

    async def actor(self, account_id: str, user_id: str | None) -> Actor | None:
        if not user_id:
            return None
        doc = await self.members.find_one({"_id": f"{account_id}|{user_id}"})
        if doc is None:
            return None
        return Actor(
            user_id=user_id,
            roles=frozenset(Role(r) for r in doc["roles"]),
            active=doc["status"] == "active",
        )

    async def is_active_member(self, account_id: str, email: str) -> bool:
        found = await self.members.find_one(
            {"account_id": account_id, "email": email, "status": "active"}
        )
        return found is not None

    async def put_account(self, account_id: str, name: str, owner_user_id: str) -> None:
        await self.accounts.update_one(
            {"_id": account_id},
            {"$set": {"name": name, "owner_user_id": owner_user_id}},
            upsert=True,
        )

    async def put_member(self, account_id: str, member_id: str, fields: dict[str, Any]) -> None:
        await self.members.update_one(
            {"_id": f"{account_id}|{member_id}"},
            {"$set": {"account_id": account_id, "member_id": member_id, **fields}},
            upsert=True,
        )


def hour_ago(now: datetime) -> datetime:
    return now - timedelta(hours=1)
