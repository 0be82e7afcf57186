"""Command and event handlers of the invitations service: parse -> authorise -> decide ->
commit, over one unit of work per message."""

from __future__ import annotations

import asyncio
import logging

from contracts.common import RejectionReason
from contracts.envelope import derived_id
from contracts.messages import (
    AcceptInvitation,
    InviteTeamMember,
    MemberDisconnected,
    MemberJoined,
    MemberRolesChanged,
    ProAccountRegistered,
    ResendInvitation,
    RevokeInvitation,
)
from services.invitations import domain
from services.invitations.domain import Invitation, Policy
from services.invitations.links import AcceptLinks
from services.invitations.store import InvitationStore
from services.runtime.authorisation import Authoriser
from services.runtime.clock import Clock
from services.runtime.collection import UniqueViolation, VersionConflict
from services.runtime.dispatch import Dispatch, Message
from services.runtime.events import Cause
from services.runtime.rules import Event, Refusal
from services.runtime.unit_of_work import Stored, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


def _pending_clash(email: str) -> Refusal:
    return Refusal(RejectionReason.ALREADY_INVITED, f"{email} already has a pending invitation")


def _in_account(inv: Invitation | None, account_id: str) -> Invitation | None:
    """Another account's invitation is as unknown as a made-up one."""
    return inv if inv is not None and inv.account_id == account_id else None


class InvitationHandlers:
    def __init__(
        self,
        store: InvitationStore,
        unit_of_work: UnitOfWorkFactory,
        links: AcceptLinks,
        policy: Policy,
        clock: Clock,
        projection_grace_seconds: float,
    ) -> None:
        self.store = store
        self.unit_of_work = unit_of_work
        self.links = links
        self.policy = policy
        self.clock = clock
        self.authoriser = Authoriser(store.actor, clock, projection_grace_seconds)

    def register_all(self, dispatch: Dispatch) -> Dispatch:
        return (
            dispatch.on(InviteTeamMember, self.invite)
            .on(ResendInvitation, self.resend)
            .on(RevokeInvitation, self.revoke)
            .on(AcceptInvitation, self.accept)
            .on(ProAccountRegistered, self.account_registered)
            .on(MemberJoined, self.member_joined)
            .on(MemberRolesChanged, self.member_roles_changed)
            .on(MemberDisconnected, self.member_disconnected)
        )

    # ---- invitations.commands ----------------------------------------------------------------

    async def invite(self, msg: Message[InviteTeamMember], uow: UnitOfWork) -> None:
        account, email, now = msg.account_id, msg.data.email, self.clock.now()
        invitation_id = derived_id(msg.envelope.id, "invitation")
        new = await uow.load_new(self.store.invitations, invitation_id)
        actor = await self.authoriser.actor(msg.envelope)
        pending = await self.store.pending(account, email)
        fresh = self.links.mint()
        invitation, created = domain.decide_invite(
            invitation_id=invitation_id,
            account_id=account,
            command=msg.data,
            actor=actor,
            account_name=await self.store.accounts.get(account) or account,
            is_active_member=await self.store.is_active_member(account, email),
            pending=pending.state,
            invitations_last_hour=await self.store.created_in_the_hour_before(account, now),
            token_hash=fresh.link.token_hash,
            now=now,
            policy=self.policy,
        )
        await self.expire(pending)  # overdue but not swept yet: close it to free the email
        events: list[Event] = [created, self.links.issue(created, fresh)]
        await uow.commit(new, invitation, events, on_unique=_pending_clash(email))

    async def resend(self, msg: Message[ResendInvitation], uow: UnitOfWork) -> None:
        stored = await uow.load(self.store.invitations, msg.data.invitation_id)
        actor = await self.authoriser.actor(msg.envelope)
        inv = _in_account(stored.state, msg.account_id)
        other = await self._other_pending(inv)
        fresh = self.links.mint()
        resent, event = domain.decide_resend(
            inv=inv,
            actor=actor,
            other_pending=None if other is None else other.state,
            token_hash=fresh.link.token_hash,
            now=self.clock.now(),
            policy=self.policy,
            invitation_id=msg.data.invitation_id,
            expires_in_days=msg.data.expires_in_days,
        )
        if other is not None:
            await self.expire(other)  # overdue (decide refused a live one): frees the email
        events: list[Event] = [event, self.links.issue(event, fresh, event.resend_count)]
        await uow.commit(stored, resent, events, on_unique=_pending_clash(resent.email))

    async def _other_pending(self, inv: Invitation | None) -> Stored[Invitation] | None:
        """Another invitation holding the same email's pending slot, if any."""
        if inv is None:
            return None
        other = await self.store.pending(inv.account_id, inv.email)
        return other if other.state is not None and other.state.id != inv.id else None

    async def revoke(self, msg: Message[RevokeInvitation], uow: UnitOfWork) -> None:
        stored = await uow.load(self.store.invitations, msg.data.invitation_id)
        actor = await self.authoriser.actor(msg.envelope)
        revoked, event = domain.decide_revoke(
            inv=_in_account(stored.state, msg.account_id),
            actor=actor,
            now=self.clock.now(),
            invitation_id=msg.data.invitation_id,
        )
        await uow.commit(stored, revoked, [event])

    async def accept(self, msg: Message[AcceptInvitation], uow: UnitOfWork) -> None:
        """The token is the credential: no actor to authorise."""
        stored = await uow.load(self.store.invitations, msg.data.invitation_id)
        accepted, event = domain.decide_accept(
            inv=_in_account(stored.state, msg.account_id),
            command=msg.data,
            now=self.clock.now(),
            policy=self.policy,
        )
        await uow.commit(stored, accepted, [event])

    # ---- expiry ------------------------------------------------------------------------------

    async def expire(self, stored: Stored[Invitation]) -> bool:
        """Expire an overdue pending invitation; caused by its expiry, not by any message."""
        if stored.state is None:
            return False
        decided = domain.decide_expire(stored.state, self.clock.now())
        if decided is None:
            return False
        expired, event = decided
        cause_id = f"{expired.id}|{expired.expires_at.isoformat()}"
        cause = Cause(cause_id, expired.account_id, derived_id(cause_id, "correlation"), None)
        await self.unit_of_work(cause).commit(stored, expired, [event], remember=False)
        return True

    async def sweep_expired(self) -> int:
        count = 0
        for stored in await self.store.overdue(self.clock.now()):
            try:
                count += await self.expire(stored)
            except (VersionConflict, UniqueViolation):
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

    # ---- membership.events: the projection authorisation and already_member read -----------

    async def account_registered(self, msg: Message[ProAccountRegistered], _: UnitOfWork) -> None:
        data = msg.data
        await self.store.accounts.put(
            msg.account_id, data.account_name, owner_user_id=data.owner_user_id
        )

    async def member_joined(self, msg: Message[MemberJoined], _: UnitOfWork) -> None:
        roles = [r.value for r in msg.data.roles]
        fields = {"email": msg.data.email, "roles": roles, "status": "active"}
        await self.store.put_member(msg.account_id, msg.data.member_id, fields)

    async def member_roles_changed(self, msg: Message[MemberRolesChanged], _: UnitOfWork) -> None:
        roles = [r.value for r in msg.data.roles]
        await self.store.put_member(msg.account_id, msg.data.member_id, {"roles": roles})

    async def member_disconnected(self, msg: Message[MemberDisconnected], _: UnitOfWork) -> None:
        roles = [r.value for r in msg.data.roles]
        fields = {"email": msg.data.email, "roles": roles, "status": "disconnected"}
        await self.store.put_member(msg.account_id, msg.data.member_id, fields)
