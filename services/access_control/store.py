"""The access_control service's MongoDB: members (roles, status, tags) and clients (tags)."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from services.access_control.visibility import ClientFacts, MemberFacts
from services.runtime.documents import (
    VersionConflict,
    insert_new,
    remember_command,
    replace_versioned,
)
from services.runtime.mongo import Document

LIVE_CLIENTS = {"removed": False}


def member_facts(doc: Document | None, member_id: str) -> MemberFacts:
    if doc is None:
        return MemberFacts(member_id)
    return MemberFacts(
        member_id=member_id,
        active=doc.get("status") == "active",
        roles=frozenset(doc.get("roles", [])),
        tags=frozenset(doc.get("tags", [])),
    )


def client_facts(doc: Document | None) -> ClientFacts | None:
    if doc is None or doc.get("removed"):
        return None
    return ClientFacts(doc["client_id"], frozenset(doc.get("tags", [])))


class AccessStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.members: AsyncCollection[Document] = db["members"]
        self.clients: AsyncCollection[Document] = db["clients"]

    async def create_indexes(self) -> None:
        await self.members.create_index([("account_id", ASCENDING)])
        await self.clients.create_index([("account_id", ASCENDING), ("client_id", ASCENDING)])

    async def member(self, account_id: str, member_id: str | None) -> Document | None:
        if not member_id:
            return None
        return await self.members.find_one({"_id": f"{account_id}|{member_id}"})

    async def client(self, account_id: str, client_id: str) -> Document | None:
        return await self.clients.find_one({"_id": f"{account_id}|{client_id}"})

    async def all_members(self, account_id: str) -> list[MemberFacts]:
        cursor = self.members.find(
            {"account_id": account_id}, {"member_id": 1, "status": 1, "roles": 1, "tags": 1}
        )
        return [member_facts(doc, doc["member_id"]) for doc in await cursor.to_list(None)]

    async def all_clients(self, account_id: str) -> list[ClientFacts]:
        cursor = self.clients.find(
            {"account_id": account_id, **LIVE_CLIENTS}, {"client_id": 1, "tags": 1}
        )
        return [
            ClientFacts(d["client_id"], frozenset(d.get("tags", [])))
            for d in await cursor.to_list(None)
        ]

    async def page_of_clients(
        self, account_id: str, tags: frozenset[str] | None, after: str | None, limit: int
    ) -> list[str]:
        """Client ids in order after `after`; only those carrying one of `tags` unless None."""
        query: dict[str, Any] = {"account_id": account_id, **LIVE_CLIENTS}
        if after:
            query["client_id"] = {"$gt": after}
        if tags is not None:
            query["tags"] = {"$in": sorted(tags)}
        cursor = (
            self.clients.find(query, {"client_id": 1}).sort("client_id", ASCENDING).limit(limit)
        )
        return [doc["client_id"] for doc in await cursor.to_list(None)]

    async def save(
        self,
        collection: AsyncCollection[Document],
        current: Document | None,
        new_fields: Document,
        command_id: str | None,
        outbox: list[Document],
    ) -> Document:
        doc = {**(current or {}), **new_fields}
        doc["outbox"] = [*(current or {}).get("outbox", []), *outbox]
        if command_id:
            remember_command(doc, command_id)
        if current is None:
            if not await insert_new(collection, doc):
                raise VersionConflict(doc["_id"])
            return doc
        return await replace_versioned(collection, doc)
