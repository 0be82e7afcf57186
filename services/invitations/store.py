"""How the invitations service stores invitations, and its projection of membership.events
(accounts, members) that answers "who is this actor" and "already a member"."""

from __future__ import annotations

from datetime import datetime, timedelta

from contracts.common import Role
from contracts.messages import InviteeResult
from services.invitations.domain import BulkInvite, Invitation, Link, ReminderRule, Status
from services.runtime.authorisation import TeamMember
from services.runtime.collection import Document, Index
from services.runtime.projection import AccountNames
from services.runtime.service import Runtime
from services.runtime.unit_of_work import Repository, Stored, field_values


def slot(inv: Invitation) -> str:
    """Unique per account+email while pending; unique per invitation otherwise.

    A unique index on this field makes "one pending invitation per email" hold even if two
    instances race. Closed invitations get a key of their own rather than a partial index: FerretDB
    v2.5 does not honour `partialFilterExpression` on a unique index (measured).
    """
    if inv.status is Status.PENDING:
        return pending_slot(inv.account_id, inv.email)
    return f"closed|{inv.id}"


def pending_slot(account_id: str, email: str) -> str:
    return f"pending|{account_id}|{email}"


class InvitationCodec:
    def key(self, state: Invitation) -> str:
        return state.id

    def encode(self, state: Invitation) -> Document:
        doc = field_values(state)
        del doc["id"]
        doc["status"] = state.status.value
        doc["roles"] = [r.value for r in state.roles]
        doc["links"] = [
            {"token_hash": link.token_hash, "issued_at": link.issued_at} for link in state.links
        ]
        doc["slot"] = slot(state)
        doc["security_tags"] = None if state.security_tags is None else list(state.security_tags)
        doc["lifetime_days"] = None if state.lifetime is None else state.lifetime.days
        del doc["lifetime"]
        return doc

    def decode(self, doc: Document) -> Invitation:
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
            links=tuple(Link(x["token_hash"], x["issued_at"]) for x in doc.get("links", [])),
            accepted_by=doc.get("accepted_by"),
            accepted_at=doc.get("accepted_at"),
            revoked_by=doc.get("revoked_by"),
            security_tags=None if doc.get("security_tags") is None else tuple(doc["security_tags"]),
            lifetime=None if not doc.get("lifetime_days") else timedelta(days=doc["lifetime_days"]),
            locale=doc.get("locale"),
            reminder_due=doc.get("reminder_due"),
            reminders=doc.get("reminders", 0),
        )


class BulkInviteCodec:
    def key(self, state: BulkInvite) -> str:
        return state.command_id

    def encode(self, state: BulkInvite) -> Document:
        return {
            "account_id": state.account_id,
            "results": [result.model_dump(mode="json") for result in state.results],
        }

    def decode(self, doc: Document) -> BulkInvite:
        results = tuple(InviteeResult.model_validate(r) for r in doc.get("results", []))
        return BulkInvite(doc["_id"], doc["account_id"], results)


class InvitationStore:
    def __init__(self, runtime: Runtime) -> None:
        invitations = runtime.collection(
            "invitations",
            Index(("slot",), unique=True),
            Index(("account_id", "created_at")),
            Index(("status", "expires_at")),
            Index(("status", "reminder_due")),
        )
        self.invitations = Repository(invitations, InvitationCodec())
        self.accounts = AccountNames(runtime.collection("accounts", outbox=False))
        self.members = runtime.collection("members", Index(("account_id", "email")), outbox=False)
        self.bulk_invites = Repository(runtime.collection("bulk_invites"), BulkInviteCodec())

    async def document(self, invitation_id: str) -> Document | None:
        """The invitation as stored (operators and tests)."""
        return await self.invitations.collection.get(invitation_id)

    async def pending(self, account_id: str, email: str) -> Stored[Invitation]:
        return await self.invitations.load_where({"slot": pending_slot(account_id, email)})

    async def created_in_the_hour_before(self, account_id: str, now: datetime) -> int:
        since = now - timedelta(hours=1)
        return await self.invitations.count(
            {"account_id": account_id, "created_at": {"$gte": since}}
        )

    async def overdue(self, now: datetime, limit: int = 500) -> list[Stored[Invitation]]:
        where = {"status": Status.PENDING.value, "expires_at": {"$lte": now}}
        return await self.invitations.load_many(where, limit=limit)

    # ---- projection of membership.events ---------------------------------------------------

    async def due_for_reminder(self, now: datetime, limit: int = 500) -> list[Stored[Invitation]]:
        where = {"status": "pending", "reminder_due": {"$lte": now}}
        return await self.invitations.load_many(where, limit=limit)

    async def reminder_rule(self, account_id: str, default: ReminderRule) -> ReminderRule:
        """The account's reminder setting (AccountPreferencesSet), else the service's."""
        preferences = await self.accounts.preferences(account_id)
        return ReminderRule(
            preferences.get("invitation_reminders", default.enabled),
            preferences.get("reminder_days_before_expiry", default.days),
        )

    async def actor(self, account_id: str, user_id: str) -> TeamMember | None:
        doc = await self.members.get(f"{account_id}|{user_id}")
        if doc is None or "roles" not in doc:
            return None
        roles = frozenset(Role(r) for r in doc["roles"])
        return TeamMember(user_id, roles, doc.get("status") == "active")

    async def is_active_member(self, account_id: str, email: str) -> bool:
        where = {"account_id": account_id, "email": email, "status": "active"}
        return await self.members.find_unique(where) is not None

    async def put_member(self, account_id: str, member_id: str, fields: Document) -> None:
        key = f"{account_id}|{member_id}"
        await self.members.upsert_fields(
            key, {"account_id": account_id, "member_id": member_id, **fields}
        )
