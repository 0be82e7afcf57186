"""Command and event handlers of the membership service."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from contracts.common import Role
from contracts.envelope import CloudEvent, RawEnvelope
from contracts.messages import (
    ChangeMemberRoles,
    DisconnectMember,
    InvitationAccepted,
    InvitationCreated,
    InvitationExpired,
    InvitationResent,
    InvitationRevoked,
    MemberJoined,
    ProAccountRegistered,
    RegisterProAccount,
)
from contracts.topics import MEMBERSHIP_EVENTS
from services.membership import domain
from services.membership.domain import Person, Refusal
from services.membership.store import MembershipStore, from_document
from services.runtime.clock import Clock
from services.runtime.consumer import Rejected
from services.runtime.documents import has_handled, replace_versioned
from services.runtime.events import caused_by
from services.runtime.inbound import Parsed
from services.runtime.mongo import Document
from services.runtime.outbox import Outbox, outbox_entry


class MembershipHandlers:
    def __init__(self, store: MembershipStore, outbox: Outbox, clock: Clock, source: str) -> None:
        self.store = store
        self.outbox = outbox
        self.clock = clock
        self.source = source

    # ---- membership.commands -----------------------------------------------------------------

    async def on_command(self, parsed: Parsed) -> None:
        handlers = {
            "RegisterProAccount": self.register,
            "DisconnectMember": self.disconnect,
            "ChangeMemberRoles": self.change_roles,
        }
        try:
            await handlers[parsed.envelope.type](parsed.envelope, parsed.data)
        except Refusal as refusal:
            raise Rejected(refusal.reason, refusal.detail) from None

    async def register(self, command: RawEnvelope, data: BaseModel) -> None:
        assert isinstance(data, RegisterProAccount)
        account_id, now = command.accountid, self.clock.now()
        existing = await self.store.account(account_id)
        if existing is not None and has_handled(existing, command.id):
            await self._ensure_owner_row(existing)
            await self.outbox.flush(self.store.accounts, existing)
            return
        owner_id = None if existing is None else existing["owner_user_id"]
        registered = ProAccountRegistered(
            account_name=data.account_name,
            owner_user_id=data.owner_user_id,
            owner_email=data.owner_email,
        )
        if not domain.check_registration(owner_id, data.owner_user_id):
            # Same account, same owner: nothing changes; the gateway still gets its answer.
            assert existing is not None
            event = self._event(command, "ProAccountRegistered", registered)
            updated = {**existing, "outbox": [*existing.get("outbox", []), self._entry(event)]}
            updated["handled_commands"] = [*existing.get("handled_commands", []), command.id]
            await self.outbox.flush(
                self.store.accounts, await replace_versioned(self.store.accounts, updated)
            )
            return
        joined = MemberJoined(
            member_id=data.owner_user_id,
            email=data.owner_email,
            name=data.owner_name,
            roles=[Role.OWNER],
            invitation_id=None,
            joined_at=now,
        )
        account = {
            "_id": account_id,
            "name": data.account_name,
            "owner_user_id": data.owner_user_id,
            "owner_email": data.owner_email,
            "owner_name": data.owner_name,
            "registered_at": now,
            "handled_commands": [command.id],
            "outbox": [
                self._entry(self._event(command, "ProAccountRegistered", registered)),
                self._entry(self._event(command, "MemberJoined", joined)),
            ],
        }
        if not await self.store.insert_account(account):
            raced = await self.store.account(account_id)  # another instance registered it
            assert raced is not None
            domain.check_registration(raced["owner_user_id"], data.owner_user_id)
            account = raced
        await self._ensure_owner_row(account)
        await self.outbox.flush(self.store.accounts, account)

    async def _ensure_owner_row(self, account: Document) -> None:
        """The owner's Users-page row; its MemberJoined travels in the account's outbox."""
        if await self.store.person(account["_id"], account["owner_email"]) is not None:
            return
        owner = domain.owner(
            account["_id"],
            account["owner_user_id"],
            account["owner_email"],
            account.get("owner_name"),
            account["registered_at"],
        )
        await self.store.save_person(None, owner, None, [])

    async def disconnect(self, command: RawEnvelope, data: BaseModel) -> None:
        assert isinstance(data, DisconnectMember)
        actor, target_doc = await self._actor_and_target(command, data.member_id)
        if target_doc is not None and has_handled(target_doc, command.id):
            await self.outbox.flush(self.store.people, target_doc)
            return
        person, event_data = domain.decide_disconnect(
            actor, _person(target_doc), data.member_id, self.clock.now()
        )
        await self._save(target_doc, person, command, "MemberDisconnected", event_data)

    async def change_roles(self, command: RawEnvelope, data: BaseModel) -> None:
        assert isinstance(data, ChangeMemberRoles)
        actor, target_doc = await self._actor_and_target(command, data.member_id)
        if target_doc is not None and has_handled(target_doc, command.id):
            await self.outbox.flush(self.store.people, target_doc)
            return
        person, event_data = domain.decide_change_roles(
            actor, _person(target_doc), data.member_id, list(data.roles)
        )
        await self._save(target_doc, person, command, "MemberRolesChanged", event_data)

    # ---- invitations.events ------------------------------------------------------------------

    async def on_invitation_event(self, parsed: Parsed) -> None:
        envelope, data = parsed.envelope, parsed.data
        account_id = envelope.accountid
        email = getattr(data, "email", None)
        if email is None:
            return  # CommandRejected and anything else without a person in it
        current = await self.store.person(account_id, email)
        person = _person(current)
        if isinstance(data, InvitationCreated):  # includes InvitationResent (a subclass)
            if isinstance(data, InvitationResent):
                updated = domain.on_invitation_resent(person, data)
            else:
                updated = domain.on_invitation_created(person, account_id, data, envelope.time)
            if updated is not None:
                await self.store.save_person(current, updated, None, [])
        elif isinstance(data, InvitationExpired):
            updated = domain.on_invitation_expired(person, data)
            if updated is not None:
                await self.store.save_person(current, updated, None, [])
        elif isinstance(data, InvitationRevoked):
            outcome = domain.on_invitation_revoked(person, data)
            if outcome is False and current is not None:
                await self.outbox.flush(self.store.people, current)
                fresh = await self.store.person(account_id, email)
                if fresh is not None:
                    await self.store.delete_person(fresh)
            elif isinstance(outcome, Person):
                await self.store.save_person(current, outcome, None, [])
        elif isinstance(data, InvitationAccepted):
            decided = domain.on_invitation_accepted(person, account_id, data)
            if decided is None:
                if current is not None:
                    await self.outbox.flush(self.store.people, current)
                return
            joined, event_data = decided
            # The id comes from the invitation: one MemberJoined per acceptance, however often
            # InvitationAccepted is delivered.
            event = caused_by(
                envelope, self.source, "MemberJoined", event_data, id_from=data.invitation_id
            )
            doc = await self.store.save_person(current, joined, None, [self._entry(event)])
            await self.outbox.flush(self.store.people, doc)

    # ---- helpers -----------------------------------------------------------------------------

    async def _actor_and_target(
        self, command: RawEnvelope, member_id: str
    ) -> tuple[Person | None, Document | None]:
        actor = _person(await self.store.member(command.accountid, command.actorid))
        target = await self.store.member(command.accountid, member_id)
        return actor, target

    async def _save(
        self,
        current: Document | None,
        person: Person,
        command: RawEnvelope,
        event_type: str,
        data: BaseModel,
    ) -> None:
        event = self._event(command, event_type, data)
        doc = await self.store.save_person(current, person, command.id, [self._entry(event)])
        await self.outbox.flush(self.store.people, doc)

    def _event(self, command: RawEnvelope, event_type: str, data: BaseModel) -> CloudEvent[Any]:
        return caused_by(command, self.source, event_type, data)

    @staticmethod
    def _entry(event: CloudEvent[Any]) -> Document:
        return outbox_entry(MEMBERSHIP_EVENTS, event)


def _person(doc: Document | None) -> Person | None:
    return None if doc is None else from_document(doc)
