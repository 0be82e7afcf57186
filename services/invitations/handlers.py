"""Command and event handlers of the invitations service: parse -> authorise -> decide ->
commit, over one unit of work per message."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from contracts.common import RejectionReason
from contracts.envelope import derived_id
from contracts.messages import (
    AcceptInvitation,
    AccountPreferencesSet,
    InviteeResult,
    InviteTeamMember,
    InviteTeamMembers,
    MemberDisconnected,
    MemberJoined,
    MemberRolesChanged,
    ProAccountRegistered,
    ResendInvitation,
    RevokeInvitation,
    TeamMembersInvited,
)
from services.invitations import domain
from services.invitations.domain import Invitation, Policy, ReminderRule
from services.invitations.links import AcceptLinks
from services.invitations.recent import RecentCreations
from services.invitations.store import InvitationStore
from services.runtime.authorisation import Authoriser, TeamMember
from services.runtime.cancellation import raise_if_cancelled
from services.runtime.clock import Clock
from services.runtime.collection import UniqueViolation, VersionConflict
from services.runtime.dispatch import Dispatch, Message
from services.runtime.events import Cause
from services.runtime.rules import Emit, Event, Refusal
from services.runtime.unit_of_work import AlreadyApplied, Stored, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)


def _pending_clash(email: str) -> Refusal:
    return Refusal(RejectionReason.ALREADY_INVITED, f"{email} already has a pending invitation")


def _in_account(inv: Invitation | None, account_id: str) -> Invitation | None:
    """Another account's invitation is as unknown as a made-up one."""
    return inv if inv is not None and inv.account_id == account_id else None


def _swept(cause_id: str, account_id: str) -> Cause:
    """What the sweeper's own decisions are caused by (no message): a fixed id per decision,
    so a repeat after a crash carries the same event ids."""
    return Cause(cause_id, account_id, derived_id(cause_id, "correlation"), None)


async def _each(
    candidates: list[Stored[Invitation]], act: Callable[[Stored[Invitation]], Awaitable[bool]]
) -> int:
    """How many of `candidates` `act` changed; one changed meanwhile (resent, accepted) is
    left to the next sweep, which decides again."""
    count = 0
    for stored in candidates:
        raise_if_cancelled()
        try:
            count += await act(stored)
        except (VersionConflict, UniqueViolation):
            continue
    return count


class InvitationHandlers:
    def __init__(
        self,
        store: InvitationStore,
        unit_of_work: UnitOfWorkFactory,
        links: AcceptLinks,
        policy: Policy,
        clock: Clock,
        projection_grace_seconds: float,
        reminders: ReminderRule = ReminderRule(),  # noqa: B008 - immutable
    ) -> None:
        self.reminders = reminders  # for accounts without their own setting
        self.store = store
        self.unit_of_work = unit_of_work
        self.links = links
        self.policy = policy
        self.clock = clock
        self.authoriser = Authoriser(store.actor, clock, projection_grace_seconds)
        self.recent = RecentCreations(policy.invites_per_account_per_hour)

    def register_all(self, dispatch: Dispatch) -> Dispatch:
        return (
            dispatch.on(InviteTeamMember, self.invite)
            .on(InviteTeamMembers, self.invite_many)
            .on(ResendInvitation, self.resend)
            .on(RevokeInvitation, self.revoke)
            .on(AcceptInvitation, self.accept)
            .on(ProAccountRegistered, self.account_registered)
            .on(AccountPreferencesSet, self.preferences_set)
            .on(MemberJoined, self.member_joined)
            .on(MemberRolesChanged, self.member_roles_changed)
            .on(MemberDisconnected, self.member_disconnected)
        )

    # ---- invitations.commands ----------------------------------------------------------------

    async def invite(self, msg: Message[InviteTeamMember], uow: UnitOfWork) -> None:
        invitation_id = derived_id(msg.envelope.id, "invitation")
        # Its invitation is not read first: a command sent once (nearly all) has none. A
        # redelivery is still answered again: the insert finds its invitation, or, when that
        # invitation made the decision a refusal (its email now a member, the hour's limit
        # reached), a read before refusing does.
        new = uow.assume_new(self.store.invitations)
        actor = await self.authoriser.actor(msg.envelope)
        try:
            await self._invite_one(uow, new, invitation_id, msg.account_id, msg.data, actor)
        except Refusal:
            await uow.load_new(self.store.invitations, invitation_id)  # AlreadyApplied if so
            raise

    async def invite_many(self, msg: Message[InviteTeamMembers], uow: UnitOfWork) -> None:
        """Each row as an InviteTeamMember of its own (its own invitation, checks and rate
        limit count); a refused row is refused alone. The summary, TeamMembersInvited, is
        written last: a redelivery finds it and answers again; one that comes after a crash
        mid-way finds the rows done so far (their invitations exist) and does the rest."""
        summary = await uow.load_new(self.store.bulk_invites, msg.envelope.id)
        actor = await self.authoriser.actor(msg.envelope)
        domain.require_inviter(actor)
        results = [
            await self._invite_row(uow, msg, index, actor)
            for index in range(len(msg.data.invitees))
        ]
        done = domain.BulkInvite(msg.envelope.id, msg.account_id, tuple(results))
        await uow.commit(summary, done, [TeamMembersInvited(results=results)])

    async def _invite_row(
        self, uow: UnitOfWork, msg: Message[InviteTeamMembers], index: int, actor: TeamMember | None
    ) -> InviteeResult:
        row = msg.data.invitees[index]
        invitation_id = derived_id(msg.envelope.id, "invitation", str(index))
        try:
            command = domain.row_command(msg.data, row)
            new = await uow.load_new(self.store.invitations, invitation_id)
            parts = (str(index),)
            await self._invite_one(uow, new, invitation_id, msg.account_id, command, actor, parts)
        except AlreadyApplied:
            pass  # done before a crash: its invitation exists
        except Refusal as refusal:
            return InviteeResult(
                index=index, email=row.email, reason=refusal.reason, detail=refusal.detail
            )
        return InviteeResult(index=index, email=command.email, invitation_id=invitation_id)

    async def _invite_one(
        self,
        uow: UnitOfWork,
        new: Stored[Invitation],
        invitation_id: str,
        account: str,
        command: InviteTeamMember,
        actor: TeamMember | None,
        id_parts: tuple[str, ...] = (),
    ) -> None:
        """One invitation decided and committed with its public event and private link (a
        bulk row's events get the row's `id_parts`, so each has its own id). The email's
        pending invitation is not read first: nearly every invite finds none, and the unique
        index on the pending slot refuses the insert when there is one. Only then is it read
        and the invite decided again with it (refused, or the overdue one expired first)."""
        email, now = command.email, self.clock.now()
        # independent reads, at once (the two of the account's document are one request)
        account_name, is_active_member, last_hour, reminders = await asyncio.gather(
            self.store.accounts.get(account),
            self.store.is_active_member(account, email),
            self.recent.in_window(
                account, now, lambda: self.store.created_in_the_hour_before(account, now)
            ),
            self.store.reminder_rule(account, self.reminders),
        )

        async def commit_with(pending: Stored[Invitation], on_unique: Refusal | None) -> None:
            fresh = self.links.mint()
            invitation, created = domain.decide_invite(
                invitation_id=invitation_id,
                account_id=account,
                command=command,
                actor=actor,
                account_name=account_name or account,
                is_active_member=is_active_member,
                pending=pending.state,
                invitations_last_hour=last_hour,
                token_hash=fresh.link.token_hash,
                now=now,
                policy=self.policy,
                reminders=reminders,
            )
            await self.expire(pending)  # overdue but not swept yet: close it to free the email
            link = replace(self.links.issue(created, fresh), id_parts=id_parts)
            events: list[Event] = [Emit(created, id_parts=id_parts), link]
            self.recent.created(account)  # before the write: a bound too high is only recounted
            await uow.commit(new, invitation, events, on_unique=on_unique)

        try:
            await commit_with(self.store.invitations.stored(None), on_unique=None)
        except UniqueViolation:  # the email's pending slot is taken
            await commit_with(await self.store.pending(account, email), _pending_clash(email))

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
            reminders=await self.store.reminder_rule(msg.account_id, self.reminders),
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
        cause = _swept(f"{expired.id}|{expired.expires_at.isoformat()}", expired.account_id)
        await self.unit_of_work(cause).commit(stored, expired, [event], remember=False)
        return True

    async def remind(self, stored: Stored[Invitation]) -> bool:
        """The automatic reminder of an invitation whose reminder is due; caused by that."""
        if stored.state is None:
            return False
        fresh = self.links.mint()
        decided = domain.decide_remind(
            stored.state, fresh.link.token_hash, self.clock.now(), self.policy
        )
        if decided is None:
            return False
        reminded, event = decided
        cause = _swept(f"{reminded.id}|reminder|{reminded.reminders}", reminded.account_id)
        details = domain.reminder_details(reminded)
        link = self.links.issue(details, fresh, details.resend_count)
        await self.unit_of_work(cause).commit(stored, reminded, [event, link], remember=False)
        return True

    async def sweep_reminders(self) -> int:
        return await _each(await self.store.due_for_reminder(self.clock.now()), self.remind)

    async def sweep_expired(self) -> int:
        return await _each(await self.store.overdue(self.clock.now()), self.expire)

    async def run_expiry_sweeper(self, interval: float) -> None:
        while True:
            try:
                if expired := await self.sweep_expired():
                    log.info("expired %d overdue invitations", expired)
                if reminded := await self.sweep_reminders():
                    log.info("sent %d automatic invitation reminders", reminded)
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

    async def preferences_set(self, msg: Message[AccountPreferencesSet], _: UnitOfWork) -> None:
        await self.store.accounts.put_preferences(msg.account_id, msg.data.model_dump(mode="json"))

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
