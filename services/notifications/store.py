"""Deliveries: one document per cause event (what was sent for which event), with its outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.runtime.documents import insert_new, replace_versioned
from services.runtime.mongo import Document

PENDING, SENT, FAILED = "pending", "sent", "failed"


class DeliveryStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.deliveries: AsyncCollection[Document] = db["deliveries"]
        self.accounts: AsyncCollection[Document] = db["accounts"]
        self.claims: AsyncCollection[Document] = db["send_claims"]

    async def create_indexes(self) -> None:
        await self.deliveries.create_index([("status", ASCENDING), ("next_attempt_at", ASCENDING)])

    async def claim(self, cause_id: str, attempt: int, lease: int) -> bool:
        """Only one sender per attempt and lease period, across instances: the insert of a key
        that names the attempt succeeds once. The lease number is part of the key, so a claim
        left by a process killed mid-attempt stops blocking once its lease period is over."""
        return await insert_new(self.claims, {"_id": f"{cause_id}#{attempt}#{lease}"})

    async def get(self, cause_id: str) -> Document | None:
        return await self.deliveries.find_one({"_id": cause_id})

    async def create(self, doc: Document) -> bool:
        return await insert_new(self.deliveries, doc)

    async def save(
        self, doc: Document, changes: dict[str, Any], outbox: list[Document]
    ) -> Document:
        updated = {**doc, **changes, "outbox": [*doc.get("outbox", []), *outbox]}
        if changes.get("status") in (SENT, FAILED):
            # the body (with its accept link) is kept only as long as it may still be sent
            updated.pop("html", None)
            updated.pop("text", None)
        return await replace_versioned(self.deliveries, updated)

    async def due(self, now: datetime, limit: int = 100) -> list[Document]:
        cursor = self.deliveries.find({"status": PENDING, "next_attempt_at": {"$lte": now}}).limit(
            limit
        )
        return await cursor.to_list(None)

    async def account_name(self, account_id: str) -> str | None:
        doc = await self.accounts.find_one({"_id": account_id})
        return None if doc is None else str(doc["name"])

    async def put_account(self, account_id: str, name: str) -> None:
        await self.accounts.update_one({"_id": account_id}, {"$set": {"name": name}}, upsert=True)
