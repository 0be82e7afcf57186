"""How membership's aggregates are stored: accounts, and people (one row per person)."""

from __future__ import annotations

from contracts.common import Locale, Role
from services.membership.domain import Account, Person, PersonStatus, Preferences
from services.membership.email_status import EmailOutcome, EmailStatus
from services.runtime.authorisation import TeamMember
from services.runtime.collection import Document, Filter, Index
from services.runtime.service import Runtime
from services.runtime.unit_of_work import Repository, field_values


def person_key(account_id: str, email: str) -> str:
    return f"{account_id}|{email}"


def by_member(account_id: str, member_id: str) -> Filter:
    return {"account_id": account_id, "member_id": member_id}


class PersonCodec:
    def key(self, state: Person) -> str:
        return person_key(state.account_id, state.email)

    def encode(self, state: Person) -> Document:
        doc = field_values(state)
        doc["status"] = state.status.value
        doc["roles"] = [r.value for r in state.roles]
        doc["joined_invitations"] = list(state.joined_invitations)
        doc["pending_tags"] = None if state.pending_tags is None else list(state.pending_tags)
        return doc

    def decode(self, doc: Document) -> Person:
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
            pending_tags=None if doc.get("pending_tags") is None else tuple(doc["pending_tags"]),
            last_sent_at=doc.get("last_sent_at"),
        )


class EmailOutcomeCodec:
    def key(self, state: EmailOutcome) -> str:
        return person_key(state.account_id, state.email)

    def encode(self, state: EmailOutcome) -> Document:
        return {**field_values(state), "status": state.status.value}

    def decode(self, doc: Document) -> EmailOutcome:
        return EmailOutcome(
            doc["account_id"],
            doc["email"],
            doc["at"],
            EmailStatus(doc["status"]),
            doc.get("reason"),
        )


class AccountCodec:
    def key(self, state: Account) -> str:
        return state.id

    def encode(self, state: Account) -> Document:
        return {
            "name": state.name,
            "owner_user_id": state.owner_user_id,
            "owner_email": state.owner_email,
            "owner_name": state.owner_name,
            "registered_at": state.registered_at,
            "preferences": field_values(state.preferences),
        }

    def decode(self, doc: Document) -> Account:
        stored = doc.get("preferences") or {}
        preferences = Preferences(**{**stored, "locale": Locale(stored.get("locale", "en"))})
        return Account(
            doc["_id"],
            doc["name"],
            doc["owner_user_id"],
            doc["owner_email"],
            doc.get("owner_name"),
            doc["registered_at"],
            preferences,
        )


class MembershipStore:
    def __init__(self, runtime: Runtime) -> None:
        self.accounts = Repository(runtime.collection("accounts"), AccountCodec())
        self.people = Repository(
            runtime.collection(
                "people",
                Index(("account_id", "member_id")),
                Index(("account_id", "status")),
                Index(("account_id", "email")),
            ),
            PersonCodec(),
        )
        self.emails = Repository(runtime.collection("email_outcomes"), EmailOutcomeCodec())

    async def team_member(self, account_id: str, member_id: str) -> TeamMember | None:
        person = (await self.people.load_where(by_member(account_id, member_id))).state
        return None if person is None else person.as_team_member()

    async def email_outcomes(self, account_id: str, emails: list[str]) -> dict[str, EmailOutcome]:
        keys = [person_key(account_id, email) for email in emails]
        found = await self.emails.find({"_id": {"$in": keys}})
        return {outcome.email: outcome for outcome in found}

    async def people_of(
        self,
        account_id: str,
        status: str | None,
        after: str | None = None,
        limit: int = 1000,
        email: str | None = None,
    ) -> list[Person]:
        """A page of the account's people in email order, after the email `after` (only the
        one with `email`, when given)."""
        where: Document = {"account_id": account_id}
        if status:
            where["status"] = status
        if email is not None:
            where["email"] = email
        elif after is not None:
            where["email"] = {"$gt": after}
        return await self.people.find(where, sort="email", limit=limit)
