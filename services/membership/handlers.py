"""Command and event handlers of the membership service: parse -> authorise -> decide -> commit."""

from __future__ import annotations

from typing import Any

from contracts.messages import (
    ChangeMemberRoles,
    DisconnectMember,
    EmailDeferred,
    EmailFailed,
    EmailSent,
    InvitationAccepted,
    InvitationCreated,
    InvitationExpired,
    InvitationReminded,
    InvitationResent,
    InvitationRevoked,
    RegisterProAccount,
    SetAccountPreferences,
)
from services.membership import domain
from services.membership.email_status import (
    INVITATION_TEMPLATES,
    EmailOutcome,
    EmailStatus,
    newer,
)
from services.membership.store import MembershipStore, by_member, person_key
from services.runtime.authorisation import Authoriser
from services.runtime.clock import Clock
from services.runtime.dispatch import Dispatch, Message
from services.runtime.unit_of_work import UnitOfWork


class MembershipHandlers:
    def __init__(self, store: MembershipStore, clock: Clock) -> None:
        self.store = store
        self.clock = clock
        self.authoriser = Authoriser(store.team_member, clock, grace_seconds=0)

    def register_all(self, dispatch: Dispatch) -> Dispatch:
        return (
            dispatch.on(RegisterProAccount, self.register)
            .on(DisconnectMember, self.disconnect)
            .on(ChangeMemberRoles, self.change_roles)
            .on(SetAccountPreferences, self.set_preferences)
            .on(InvitationCreated, self.invitation_created)
            .on(InvitationResent, self.invitation_resent)
            .on(InvitationExpired, self.invitation_expired)
            .on(InvitationReminded, self.invitation_reminded)
            .on(InvitationRevoked, self.invitation_revoked)
            .on(InvitationAccepted, self.invitation_accepted)
            .on(EmailSent, self.email_sent)
            .on(EmailDeferred, self.email_deferred)
            .on(EmailFailed, self.email_failed)
        )

    # ---- membership.commands -----------------------------------------------------------------

    async def register(self, msg: Message[RegisterProAccount], uow: UnitOfWork) -> None:
        stored = await uow.load(self.store.accounts, msg.account_id)
        account, events = domain.decide_register(
            stored.state, msg.account_id, msg.data, self.clock.now()
        )
        owner = account.owner()
        owner_row = await self.store.people.load(person_key(owner.account_id, owner.email))
        if owner_row.state is None:  # written first: a crash before the account leaves no gap
            await uow.commit(owner_row, owner, remember=False)
        await uow.commit(stored, account, events)

    async def set_preferences(self, msg: Message[SetAccountPreferences], uow: UnitOfWork) -> None:
        stored = await uow.load(self.store.accounts, msg.account_id)
        actor = await self.authoriser.actor(msg.envelope)
        account, event = domain.decide_preferences(actor, stored.state, msg.data)
        await uow.commit(stored, account, [event])

    async def disconnect(self, msg: Message[DisconnectMember], uow: UnitOfWork) -> None:
        target = await uow.load_where(
            self.store.people, by_member(msg.account_id, msg.data.member_id)
        )
        actor = await self.authoriser.actor(msg.envelope)
        person, event = domain.decide_disconnect(
            actor, target.state, msg.data.member_id, self.clock.now()
        )
        await uow.commit(target, person, [event])

    async def change_roles(self, msg: Message[ChangeMemberRoles], uow: UnitOfWork) -> None:
        target = await uow.load_where(
            self.store.people, by_member(msg.account_id, msg.data.member_id)
        )
        actor = await self.authoriser.actor(msg.envelope)
        person, event = domain.decide_change_roles(
            actor, target.state, msg.data.member_id, list(msg.data.roles)
        )
        await uow.commit(target, person, [event])

    # ---- invitations.events ------------------------------------------------------------------

    async def invitation_created(self, msg: Message[InvitationCreated], uow: UnitOfWork) -> None:
        key, when = person_key(msg.account_id, msg.data.email), msg.envelope.time
        await uow.create_or_change(  # a new invitee has no row yet: no read for them
            self.store.people,
            key,
            lambda person: domain.on_invitation_created(person, msg.account_id, msg.data, when),
        )

    async def invitation_resent(self, msg: Message[InvitationResent], uow: UnitOfWork) -> None:
        row = await uow.load(self.store.people, person_key(msg.account_id, msg.data.email))
        resent = domain.on_invitation_resent(row.state, msg.data, msg.envelope.time)
        await uow.commit(row, resent)

    async def invitation_reminded(self, msg: Message[InvitationReminded], uow: UnitOfWork) -> None:
        row = await uow.load(self.store.people, person_key(msg.account_id, msg.data.email))
        reminded = domain.on_invitation_reminded(row.state, msg.data, msg.envelope.time)
        await uow.commit(row, reminded)

    async def invitation_expired(self, msg: Message[InvitationExpired], uow: UnitOfWork) -> None:
        row = await uow.load(self.store.people, person_key(msg.account_id, msg.data.email))
        await uow.commit(row, domain.on_invitation_expired(row.state, msg.data))

    async def invitation_revoked(self, msg: Message[InvitationRevoked], uow: UnitOfWork) -> None:
        row = await uow.load(self.store.people, person_key(msg.account_id, msg.data.email))
        await uow.commit(row, domain.on_invitation_revoked(row.state, msg.data))

    async def invitation_accepted(self, msg: Message[InvitationAccepted], uow: UnitOfWork) -> None:
        row = await uow.load(self.store.people, person_key(msg.account_id, msg.data.email))
        joined, events = domain.on_invitation_accepted(row.state, msg.account_id, msg.data)
        await uow.commit(row, joined, events)

    # ---- notifications.events: the invitation email's delivery, for the Users page ----------

    async def email_sent(self, msg: Message[EmailSent], uow: UnitOfWork) -> None:
        await self._email(msg, msg.data.template, msg.data.to, EmailStatus.SENT, None, uow)

    async def email_deferred(self, msg: Message[EmailDeferred], uow: UnitOfWork) -> None:
        data = msg.data
        await self._email(msg, data.template, data.to, EmailStatus.RETRYING, data.error, uow)

    async def email_failed(self, msg: Message[EmailFailed], uow: UnitOfWork) -> None:
        data = msg.data
        await self._email(msg, data.template, data.to, EmailStatus.FAILED, data.error, uow)

    async def _email(
        self,
        msg: Message[Any],
        template: str,
        to: str,
        status: EmailStatus,
        reason: str | None,
        uow: UnitOfWork,
    ) -> None:
        if template not in INVITATION_TEMPLATES:
            return  # welcome emails don't show on the Users page
        incoming = EmailOutcome(msg.account_id, to, msg.envelope.time, status, reason)
        key = person_key(msg.account_id, to)  # the first email to an address has no row yet
        await uow.create_or_change(self.store.emails, key, lambda known: newer(known, incoming))
