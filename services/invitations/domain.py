"""The invitation lifecycle as pure rules: no I/O, no clock of its own, no randomness.

Each `decide_*` function takes the current state and a command and either raises `Refusal`
or returns the new state with the event it causes. Who may act is `authorisation.require`.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import ValidationError

from contracts.common import RejectionReason, Role
from contracts.messages import (
    AcceptInvitation,
    InvitationAccepted,
    InvitationCreated,
    InvitationExpired,
    InvitationReminded,
    InvitationResent,
    InvitationRevoked,
    Invitee,
    InviteeResult,
    InviteTeamMember,
    InviteTeamMembers,
)
from services.runtime.authorisation import Permission, TeamMember, require
from services.runtime.inbound import describe
from services.runtime.rules import Refusal


class Status(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Policy:
    ttl: timedelta = timedelta(days=7)
    invites_per_account_per_hour: int = 200
    resend_interval: timedelta = timedelta(seconds=60)
    max_message_chars: int = 2000
    live_links: int = 5


@dataclass(frozen=True)
class ReminderRule:
    """The account's reminder setting: one automatic reminder `days` before expiry."""

    enabled: bool = True
    days: int = 2

    def due(self, expires_at: datetime, sent_at: datetime) -> datetime | None:
        """When a link sent at `sent_at` is reminded of; None: never (off, or the reminder
        would come before the email it reminds of)."""
        due = expires_at - timedelta(days=self.days)
        return due if self.enabled and due > sent_at else None


@dataclass(frozen=True)
class Link:
    """An accept link as stored: only the hash of its token (see links.AcceptLinks)."""

    token_hash: str
    issued_at: datetime


@dataclass(frozen=True)
class Invitation:
    id: str
    account_id: str
    account_name: str
    email: str
    roles: tuple[Role, ...]
    message: str | None
    invitee_name: str | None
    inviter_id: str
    inviter_name: str | None
    status: Status
    created_at: datetime
    expires_at: datetime
    last_sent_at: datetime
    resend_count: int = 0
    links: tuple[Link, ...] = field(default_factory=tuple)
    accepted_by: str | None = None
    accepted_at: datetime | None = None
    revoked_by: str | None = None
    security_tags: tuple[str, ...] | None = None  # applied when the invitee joins
    lifetime: timedelta | None = None  # its own; None: the policy's
    locale: str | None = None  # of its emails; None: the account's
    reminder_due: datetime | None = None  # when the automatic reminder goes; None: never
    reminders: int = 0

    def status_at(self, now: datetime) -> Status:
        """A pending invitation past its expiry is expired, whether or not the sweeper ran."""
        if self.status is Status.PENDING and now >= self.expires_at:
            return Status.EXPIRED
        return self.status

    def blocks_new_invitation(self, now: datetime) -> bool:
        return self.status_at(now) is Status.PENDING

    def knows_token(self, token_hash: str, live_links: int) -> bool:
        """Only the `live_links` newest links work; compared in constant time."""
        newest = self.links[-live_links:] if live_links else ()
        return any(hmac.compare_digest(link.token_hash, token_hash) for link in newest)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _created_data(inv: Invitation) -> dict[str, object]:
    return {
        "invitation_id": inv.id,
        "email": inv.email,
        "roles": list(inv.roles),
        "message": inv.message,
        "invitee_name": inv.invitee_name,
        "inviter_id": inv.inviter_id,
        "inviter_name": inv.inviter_name,
        "account_name": inv.account_name,
        "expires_at": inv.expires_at,
        "security_tags": _tags(inv),
        "locale": inv.locale,
    }


def _tags(inv: Invitation) -> list[str] | None:
    return None if inv.security_tags is None else list(inv.security_tags)


def _lifetime(days: int | None, inv: Invitation | None, policy: Policy) -> timedelta:
    """The lifetime asked for, else the invitation's own, else the policy's."""
    if days is not None:
        return timedelta(days=days)
    return (inv.lifetime if inv is not None else None) or policy.ttl


@dataclass(frozen=True)
class BulkInvite:
    """An InviteTeamMembers command once done: what became of each row."""

    command_id: str
    account_id: str
    results: tuple[InviteeResult, ...]


def require_inviter(actor: TeamMember | None) -> TeamMember:
    return require(actor, Permission.MANAGE_TEAM)


def row_command(bulk: InviteTeamMembers, row: Invitee) -> InviteTeamMember:
    """A bulk row as the InviteTeamMember it stands for; Refusal(invalid) when it is not one."""
    fields = {
        "email": row.email,
        "roles": row.roles,
        "invitee_name": row.invitee_name,
        "security_tags": row.security_tags,
        "message": bulk.message,
        "inviter_name": bulk.inviter_name,
        "expires_in_days": bulk.expires_in_days,
    }
    try:
        return InviteTeamMember.model_validate(fields)
    except ValidationError as exc:
        raise Refusal(RejectionReason.INVALID, describe(exc)) from None


def decide_invite(
    *,
    invitation_id: str,
    account_id: str,
    command: InviteTeamMember,
    actor: TeamMember | None,
    account_name: str,
    is_active_member: bool,
    pending: Invitation | None,
    invitations_last_hour: int,
    token_hash: str,
    now: datetime,
    policy: Policy,
    reminders: ReminderRule = ReminderRule(),
) -> tuple[Invitation, InvitationCreated]:
    manager = require(actor, Permission.MANAGE_TEAM)
    if command.message is not None and len(command.message) > policy.max_message_chars:
        raise Refusal(
            RejectionReason.INVALID,
            f"message is {len(command.message)} characters; at most {policy.max_message_chars}",
        )
    if is_active_member:
        raise Refusal(RejectionReason.ALREADY_MEMBER, f"{command.email} is already a member")
    if pending is not None and pending.blocks_new_invitation(now):
        raise Refusal(
            RejectionReason.ALREADY_INVITED,
            f"{command.email} already has a pending invitation {pending.id}; resend it instead",
        )
    if invitations_last_hour >= policy.invites_per_account_per_hour:
        raise Refusal(
            RejectionReason.RATE_LIMITED,
            f"at most {policy.invites_per_account_per_hour} invitations per account per hour",
        )
    lifetime = _lifetime(command.expires_in_days, None, policy)
    tags = None if command.security_tags is None else tuple(command.security_tags)
    invitation = Invitation(
        id=invitation_id,
        account_id=account_id,
        account_name=account_name,
        email=command.email,
        roles=tuple(command.roles),
        message=command.message,
        invitee_name=command.invitee_name,
        inviter_id=manager.member_id,
        inviter_name=command.inviter_name,
        status=Status.PENDING,
        created_at=now,
        expires_at=now + lifetime,
        last_sent_at=now,
        links=(Link(token_hash, now),),
        security_tags=tags,
        lifetime=None if command.expires_in_days is None else lifetime,
        locale=None if command.locale is None else command.locale.value,
        reminder_due=reminders.due(now + lifetime, now),
    )
    return invitation, InvitationCreated.model_validate(_created_data(invitation))


def _require_open(inv: Invitation, now: datetime) -> None:
    status = inv.status_at(now)
    if status is Status.ACCEPTED:
        raise Refusal(RejectionReason.ALREADY_ACCEPTED, "the invitation was already accepted")
    if status is Status.REVOKED:
        raise Refusal(RejectionReason.REVOKED, "the invitation was revoked")


def _require_found(inv: Invitation | None, invitation_id: str) -> Invitation:
    if inv is None:
        raise Refusal(RejectionReason.NOT_FOUND, f"no invitation {invitation_id} here")
    return inv


def decide_resend(
    *,
    inv: Invitation | None,
    actor: TeamMember | None,
    other_pending: Invitation | None,
    token_hash: str,
    now: datetime,
    policy: Policy,
    invitation_id: str = "",
    expires_in_days: int | None = None,
    reminders: ReminderRule = ReminderRule(),
) -> tuple[Invitation, InvitationResent]:
    require(actor, Permission.MANAGE_TEAM)
    inv = _require_found(inv, invitation_id)
    _require_open(inv, now)
    if now < inv.last_sent_at + policy.resend_interval:
        raise Refusal(
            RejectionReason.RATE_LIMITED,
            f"resend at most once per {int(policy.resend_interval.total_seconds())} s",
        )
    if (
        other_pending is not None
        and other_pending.id != inv.id
        and other_pending.blocks_new_invitation(now)
    ):
        raise Refusal(
            RejectionReason.ALREADY_INVITED,
            f"{inv.email} has another pending invitation {other_pending.id}",
        )
    lifetime = _lifetime(expires_in_days, inv, policy)
    resent = replace(
        inv,
        status=Status.PENDING,
        lifetime=lifetime if expires_in_days is not None else inv.lifetime,
        expires_at=now + lifetime,
        reminder_due=reminders.due(now + lifetime, now),
        last_sent_at=now,
        resend_count=inv.resend_count + 1,
        links=(*inv.links, Link(token_hash, now))[-policy.live_links :],
    )
    event = InvitationResent.model_validate(
        {**_created_data(resent), "resend_count": resent.resend_count}
    )
    return resent, event


def decide_revoke(
    *, inv: Invitation | None, actor: TeamMember | None, now: datetime, invitation_id: str = ""
) -> tuple[Invitation, InvitationRevoked]:
    manager = require(actor, Permission.MANAGE_TEAM)
    inv = _require_found(inv, invitation_id)
    _require_open(inv, now)
    revoked = replace(inv, status=Status.REVOKED, revoked_by=manager.member_id)
    return revoked, InvitationRevoked(
        invitation_id=inv.id, email=inv.email, revoked_by=manager.member_id
    )


def decide_accept(
    *, inv: Invitation | None, command: AcceptInvitation, now: datetime, policy: Policy
) -> tuple[Invitation, InvitationAccepted]:
    """The token is the credential: no actor check, but the verified email must match."""
    if inv is None or not inv.knows_token(hash_token(command.token), policy.live_links):
        raise Refusal(RejectionReason.INVALID_TOKEN, "unknown or dead invitation link")
    status = inv.status_at(now)
    if status is Status.ACCEPTED:
        raise Refusal(RejectionReason.ALREADY_ACCEPTED, "the invitation was already accepted")
    if status is Status.REVOKED:
        raise Refusal(RejectionReason.REVOKED, "the invitation was revoked")
    if status is Status.EXPIRED:
        raise Refusal(RejectionReason.EXPIRED, "the invitation has expired; ask for a new one")
    if command.email != inv.email:
        raise Refusal(
            RejectionReason.EMAIL_MISMATCH,
            "the invitation was sent to another email address than the signed-in user's",
        )
    accepted = replace(inv, status=Status.ACCEPTED, accepted_by=command.user_id, accepted_at=now)
    return accepted, InvitationAccepted(
        invitation_id=inv.id,
        email=inv.email,
        roles=list(inv.roles),
        user_id=command.user_id,
        name=command.name or inv.invitee_name,
        invited_by=inv.inviter_id,
        accepted_at=now,
        security_tags=_tags(inv),
    )


def decide_remind(
    inv: Invitation, token_hash: str, now: datetime, policy: Policy
) -> tuple[Invitation, InvitationReminded] | None:
    """The sweeper's reminder: a pending invitation whose reminder is due gets a new link
    (earlier ones keep working) with the rules of a manual resend: not sooner than the resend
    interval after the last email (then it waits). At most one per link an admin sent; the
    expiry does not move."""
    if inv.status_at(now) is not Status.PENDING or inv.reminder_due is None:
        return None
    if now < inv.reminder_due or now < inv.last_sent_at + policy.resend_interval:
        return None
    reminded = replace(
        inv,
        last_sent_at=now,
        reminder_due=None,
        reminders=inv.reminders + 1,
        links=(*inv.links, Link(token_hash, now))[-policy.live_links :],
    )
    return reminded, InvitationReminded(
        invitation_id=inv.id,
        email=inv.email,
        expires_at=inv.expires_at,
        reminders=reminded.reminders,
    )


def reminder_details(inv: Invitation) -> InvitationResent:
    """What the reminder email says (a resend's email, marked as a reminder)."""
    return InvitationResent.model_validate(
        {**_created_data(inv), "resend_count": inv.resend_count + inv.reminders}
    )


def decide_expire(inv: Invitation, now: datetime) -> tuple[Invitation, InvitationExpired] | None:
    """The sweeper's rule: a pending invitation past its expiry becomes expired."""
    if inv.status is not Status.PENDING or now < inv.expires_at:
        return None
    return replace(inv, status=Status.EXPIRED), InvitationExpired(
        invitation_id=inv.id, email=inv.email
    )
