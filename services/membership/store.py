"""The membership service's MongoDB: accounts and people (one row per person), each document
carrying its own outbox."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from contracts.common import Role
from services.membership.domain import Person, PersonStatus
from services.runtime.documents import (
    VersionConflict,
    insert_new,
    remember_command,
    replace_versioned,
)
from services.runtime.mongo import Document


def person_key(account_id: str, email: str) -> str:
    return f"{account_id}|{email}"


def to_document(person: Person) -> Document:
    doc = asdict(person)
    doc["_id"] = person_key(person.account_id, person.email)
    doc["status"] = person.status.value
    doc["roles"] = [r.value for r in person.roles]
    doc["joined_invitations"] = list(person.joined_invitations)
    return doc


def from_document(doc: Document) -> Person:
    return Person(
        account_id=doc["account_id"],
        email=doc["email"],
        status=PersonStatus(doc["status"]),
        roles=tuple(Role(r) for r in doc["roles"]),
        member_id=doc.get("member_id"),
        name=doc.get("name"),
        invitation_id=doc.get("invitation_id"),
        invited_at=doc.get("invited_at"),
        joined_at=doc.get("joined_at"),
        expires_at=doc.get("expires_at"),
        resend_count=doc.get("resend_count", 0),
        joined_invitations=tuple(doc.get("joined_invitations", [])),
    )


class MembershipStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.accounts: AsyncCollection[Document] = db["accounts"]
        self.people: AsyncCollection[Document] = db["people"]

    async def create_indexes(self) -> None:
        await self.people.create_index([("account_id", ASCENDING), ("member_id", ASCENDING)])
        await self.people.create_index([("account_id", ASCENDING), ("status", ASCENDING)])

    async def account(self, account_id: str) -> Document | None:
        return await self.accounts.find_one({"_id": account_id})

    async def person(self, account_id: str, email: str) -> Document | None:
        return await self.people.find_one({"_id": person_key(account_id, email)})

    async def member(self, account_id: str, member_id: str | None) -> Document | None:
        if not member_id:
            return None
        return await self.people.find_one({"account_id": account_id, "member_id": member_id})

    async def people_of(self, account_id: str, status: str | None) -> list[Document]:
        query: dict[str, Any] = {"account_id": account_id}
        if status:
            query["status"] = status
        return await self.people.find(query, {"outbox": 0, "handled_commands": 0}).to_list(None)

    async def insert_account(self, doc: Document) -> bool:
        return await insert_new(self.accounts, doc)

    async def save_person(
        self,
        current: Document | None,
        person: Person,
        cause_id: str | None,
        outbox: list[Document],
    ) -> Document:
        """Insert or versioned-replace the row with its events; raises VersionConflict."""
        doc = {**(current or {}), **to_document(person)}
        doc["outbox"] = [*(current or {}).get("outbox", []), *outbox]
        if cause_id:
            remember_command(doc, cause_id)
        if current is None:
            if not await insert_new(self.people, doc):
                raise VersionConflict(doc["_id"])
            return doc
        return await replace_versioned(self.people, doc)

    async def delete_person(self, current: Document) -> bool:
        result = await self.people.delete_one(
            {"_id": current["_id"], "version": current["version"]}
        )
        return result.deleted_count == 1
