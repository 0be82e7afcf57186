"""Command and event handlers of the invitations service: load, decide (domain), write the
state and its events in one document write, publish."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
from typing import Any

from pydantic import BaseModel

from contracts.common import RejectionReason
from contracts.envelope import CloudEvent, RawEnvelope, derived_id
from contracts.messages import (
    AcceptInvitation,
    InvitationCreated,
    InvitationLinkIssued,
    InviteTeamMember,
    MemberDisconnected,
    MemberJoined,
    MemberRolesChanged,
    ProAccountRegistered,
    ResendInvitation,
    RevokeInvitation,
)
from contracts.topics import INVITATIONS_EVENTS, INVITATIONS_LINKS
from services.invitations import domain
from services.invitations.domain import Actor, Policy, Refusal
from services.invitations.store import (
    AlreadyStored,
    InvitationStore,
    SlotTaken,
    from_document,
    hour_ago,
)
from services.runtime.clock import Clock
from services.runtime.consumer import Rejected
from services.runtime.documents import VersionConflict, has_handled
from services.runtime.events import caused_by
from services.runtime.inbound import Parsed
from services.runtime.mongo import Document
from services.runtime.outbox import Outbox, outbox_entry
from services.runtime.projection import with_grace

log = logging.getLogger(__name__)

TOKEN_EVENTS = frozenset({"InvitationLinkIssued"})


def new_token() -> str:
    return secrets.token_urlsafe(32)


class InvitationHandlers:
    def __init__(
        self,
        store: InvitationStore,
        outbox: Outbox,
        policy: Policy,
        clock: Clock,
        source: str,
        projection_grace_seconds: float,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.policy = policy
        self.clock = clock
        self.source = source
        self.grace = projection_grace_seconds
        # event id -> raw accept token, only between the document write and the publish
        self._fresh_tokens: dict[str, str] = {}

    # ---- commands ----------------------------------------------------------------------------

    async def on_command(self, parsed: Parsed) -> None:
        await self.on_command_parsed(parsed.envelope, parsed.data)

    async def on_command_parsed(self, envelope: RawEnvelope, data: BaseModel) -> None:
        handlers = {
            "InviteTeamMember": self.invite,
            "ResendInvitation": self.resend,
            "RevokeInvitation": self.revoke,
            "AcceptInvitation": self.accept,
        }
        try:
            await handlers[envelope.type](envelope, data)
        except Refusal as refusal:
            raise Rejected(refusal.reason, refusal.detail) from None

    async def invite(self, command: RawEnvelope, data: BaseModel) -> None:
        assert isinstance(data, InviteTeamMember)
        invitation_id = derived_id(command.id, "invitation")
        now = self.clock.now()
        account = command.accountid
        pending_doc = await self.store.pending_for(account, data.email)
        if pending_doc is not None and pending_doc["_id"] == invitation_id:
            await self._flush(pending_doc)  # this very command, redelivered: only publish
            return
        actor = await self._actor(command)
        pending = from_document(pending_doc) if pending_doc else None
        token = new_token()
        invitation, created = domain.decide_invite(
            invitation_id=invitation_id,
            account_id=account,
            command=data,
            actor=actor,
            account_name=await self.store.account_name(account) or account,
            is_active_member=await self.store.is_active_member(account, data.email),
            pending=pending,
            invitations_last_hour=await self.store.created_since(account, hour_ago(now)),
            token_hash=domain.hash_token(token),
            now=now,
            policy=self.policy,
        )
        if pending_doc is not None:  # overdue but not swept yet: close it to free the email
            await self.expire(pending_doc)
        event = self._event(command, "InvitationCreated", created)
        link = self._link_event(command, created, token)
        try:
            doc = await self.store.insert(invitation, command.id, [self._entry(event), link])
        except AlreadyStored:
            self._fresh_tokens.pop(link["id"], None)
            existing = await self.store.get(invitation_id)  # applied before (then resent...)
            if existing is not None:
                await self._flush(existing)
            return
        except SlotTaken:
            self._fresh_tokens.pop(link["id"], None)
            raise Refusal(
                RejectionReason.ALREADY_INVITED, f"{data.email} already has a pending invitation"
            ) from None
        await self._flush(doc)

    async def resend(self, command: RawEnvelope, data: BaseModel) -> None:
        assert isinstance(data, ResendInvitation)
        doc = await self._invitation_of(command, data.invitation_id)
        if doc is None:
            return
        invitation = from_document(doc)
        now = self.clock.now()
        other_doc = await self.store.pending_for(command.accountid, invitation.email)
        other = from_document(other_doc) if other_doc and other_doc["_id"] != doc["_id"] else None
        token = new_token()
        resent, event_data = domain.decide_resend(
            inv=invitation,
            actor=await self._actor(command),
            other_pending=other,
            token_hash=domain.hash_token(token),
            now=now,
            policy=self.policy,
        )
        if other_doc is not None and other is not None:
            await self.expire(other_doc)
        event = self._event(command, "InvitationResent", event_data)
        link = self._link_event(command, event_data, token)
        try:
            written = await self.store.update(doc, resent, command.id, [self._entry(event), link])
        except SlotTaken:
            self._fresh_tokens.pop(link["id"], None)
            raise Refusal(
                RejectionReason.ALREADY_INVITED,
                f"{invitation.email} has another pending invitation",
            ) from None
        await self._flush(written)

    async def revoke(self, command: RawEnvelope, data: BaseModel) -> None:
        assert isinstance(data, RevokeInvitation)
        doc = await self._invitation_of(command, data.invitation_id)
        if doc is None:
            return
        revoked, event_data = domain.decide_revoke(
            inv=from_document(doc), actor=await self._actor(command), now=self.clock.now()
        )
        event = self._event(command, "InvitationRevoked", event_data)
        await self._flush(await self.store.update(doc, revoked, command.id, [self._entry(event)]))

    async def accept(self, command: RawEnvelope, data: BaseModel) -> None:
        assert isinstance(data, AcceptInvitation)
        doc = await self.store.get(data.invitation_id)
        if doc is not None and has_handled(doc, command.id):
            await self._flush(doc)
            return
        if doc is not None and doc["account_id"] != command.accountid:
            doc = None  # another account's invitation: as unknown as a made-up one
        accepted, event_data = domain.decide_accept(
            inv=from_document(doc) if doc else None,
            command=data,
            now=self.clock.now(),
            policy=self.policy,
        )
        assert doc is not None
        event = self._event(command, "InvitationAccepted", event_data)
        await self._flush(await self.store.update(doc, accepted, command.id, [self._entry(event)]))

    # ---- expiry ------------------------------------------------------------------------------

    async def expire(self, doc: Document) -> None:
        invitation = from_document(doc)
        decided = domain.decide_expire(invitation, self.clock.now())
        if decided is None:
            return
        expired, event_data = decided
        cause = f"{invitation.id}|{invitation.expires_at.isoformat()}"
        event = CloudEvent[Any](
            id=derived_id(cause, "InvitationExpired"),
            source=self.source,
            type="InvitationExpired",
            accountid=invitation.account_id,
            correlationid=derived_id(cause, "correlation"),
            data=event_data,
        )
        await self._flush(await self.store.update(doc, expired, None, [self._entry(event)]))

    async def sweep_expired(self) -> int:
        count = 0
        for doc in await self.store.overdue(self.clock.now()):
            try:
                await self.expire(doc)
                count += 1
            except (VersionConflict, SlotTaken):
                continue  # changed meanwhile (resent, accepted): the next sweep decides again
        return count

    async def run_expiry_sweeper(self, interval: float) -> None:
        while True:
            try:
                if expired := await self.sweep_expired():
                    log.info("expired %d overdue invitations", expired)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("expiry sweep failed; will retry")
            await asyncio.sleep(interval)

    # ---- membership.events projection --------------------------------------------------------

    async def on_membership_event(self, parsed: Parsed) -> None:
        account, data = parsed.envelope.accountid, parsed.data
        if isinstance(data, ProAccountRegistered):
            await self.store.put_account(account, data.account_name, data.owner_user_id)
        elif isinstance(data, MemberJoined):
            await self.store.put_member(
                account,
                data.member_id,
                {"email": data.email, "roles": [r.value for r in data.roles], "status": "active"},
            )
        elif isinstance(data, MemberRolesChanged):
            await self.store.put_member(
                account, data.member_id, {"roles": [r.value for r in data.roles]}
            )
        elif isinstance(data, MemberDisconnected):
            await self.store.put_member(
                account,
                data.member_id,
                {
                    "email": data.email,
                    "roles": [r.value for r in data.roles],
                    "status": "disconnected",
                },
            )

    # ---- outbox rendering: put the raw token back at publish time ---------------------------

    async def render_outbox_entry(self, collection: Any, doc: Document, entry: Document) -> bytes:
        value: str = entry["value"]
        if entry["type"] not in TOKEN_EVENTS:
            return value.encode()
        token = self._fresh_tokens.get(entry["id"])
        if token is None:
            # Relaying after a crash: the raw token died with the process (only its hash was
            # stored), so this event gets a fresh link; the invitation keeps its earlier ones.
            token = new_token()
            await self.store.add_link(doc["_id"], domain.hash_token(token), self.clock.now())
            self._fresh_tokens[entry["id"]] = token
        message = json.loads(value)
        message["data"]["accept_token"] = token
        return json.dumps(message, separators=(",", ":")).encode()

    # ---- helpers -----------------------------------------------------------------------------

    async def _flush(self, doc: Document) -> None:
        await self.outbox.flush(self.store.invitations, doc)
        for entry in doc.get("outbox", []):
            self._fresh_tokens.pop(entry["id"], None)

    async def _actor(self, command: RawEnvelope) -> Actor | None:
        """The actor as the membership projection knows them (with a grace to catch up)."""
        return await with_grace(
            lambda: self.store.actor(command.accountid, command.actorid),
            command.time,
            self.grace,
            self.clock,
        )

    async def _invitation_of(self, command: RawEnvelope, invitation_id: str) -> Document | None:
        """The invitation if it belongs to the command's account; None if this command was
        already applied (after publishing what it left). Refuses strangers first."""
        doc = await self.store.get(invitation_id)
        if doc is not None and has_handled(doc, command.id):
            await self._flush(doc)
            return None
        actor = await self._actor(command)
        if actor is None or not actor.manages_team:
            raise Refusal(
                RejectionReason.FORBIDDEN,
                "only an active owner or administrator of the account may do this",
            )
        if doc is None or doc["account_id"] != command.accountid:
            raise Refusal(RejectionReason.NOT_FOUND, f"no invitation {invitation_id} here")
        return doc

    def _event(self, command: RawEnvelope, event_type: str, data: BaseModel) -> CloudEvent[Any]:
        return caused_by(command, self.source, event_type, data)

    @staticmethod
    def _entry(event: CloudEvent[Any]) -> Document:
        return outbox_entry(INVITATIONS_EVENTS, event)

    def _link_event(self, command: RawEnvelope, sent: InvitationCreated, token: str) -> Document:
        """The private twin of a public InvitationCreated/Resent: the email's content and the
        raw token, which stays in memory (the stored entry has a placeholder) until publish."""
        data = InvitationLinkIssued(**sent.model_dump(), accept_token="")
        event = self._event(command, "InvitationLinkIssued", data)
        self._fresh_tokens[event.id] = token
        return outbox_entry(INVITATIONS_LINKS, event)
