"""Membership rules as pure functions: who is on the team, in which roles, in which state.

One `Person` per account and normalised email: a pending invitation, an active member and a
disconnected member are states of the same row (the Users page shows one row per person).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum

from contracts.common import Locale, RejectionReason, Role
from contracts.messages import (
    AccountPreferencesSet,
    InvitationAccepted,
    InvitationCreated,
    InvitationExpired,
    InvitationReminded,
    InvitationResent,
    InvitationRevoked,
    MemberDisconnected,
    MemberJoined,
    MemberRolesChanged,
    ProAccountRegistered,
    RegisterProAccount,
    SetAccountPreferences,
)
from services.runtime.authorisation import Permission, TeamMember, require
from services.runtime.rules import REMOVED, Emit, Event, Refusal, Removed


class PersonStatus(StrEnum):
    PENDING = "pending"
    EXPIRED = "expired"
    ACTIVE = "active"
    DISCONNECTED = "disconnected"


@dataclass(frozen=True)
class Person:
    account_id: str
    email: str
    status: PersonStatus
    roles: tuple[Role, ...]
    member_id: str | None = None
    name: str | None = None
    invitation_id: str | None = None
    invited_at: datetime | None = None
    joined_at: datetime | None = None
    expires_at: datetime | None = None
    resend_count: int = 0
    joined_invitations: tuple[str, ...] = ()
    pending_tags: tuple[str, ...] | None = None  # the invitation's, until they join
    last_sent_at: datetime | None = None  # when the latest link was issued (created, resent)

    @property
    def is_owner(self) -> bool:
        return Role.OWNER in self.roles

    def as_team_member(self) -> TeamMember | None:
        if self.member_id is None:
            return None
        return TeamMember(self.member_id, frozenset(self.roles), self.status is PersonStatus.ACTIVE)


@dataclass(frozen=True)
class Preferences:
    """An account's preferences; the defaults until an admin changes them."""

    invitation_reminders: bool = True
    reminder_days_before_expiry: int = 2
    locale: Locale = Locale.EN
    time_zone: str = "UTC"


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    owner_user_id: str
    owner_email: str
    owner_name: str | None
    registered_at: datetime
    preferences: Preferences = Preferences()

    def owner(self) -> Person:
        """The owner's row on the Users page."""
        return Person(
            account_id=self.id,
            email=self.owner_email,
            status=PersonStatus.ACTIVE,
            roles=(Role.OWNER,),
            member_id=self.owner_user_id,
            name=self.owner_name,
            joined_at=self.registered_at,
        )


def decide_register(
    account: Account | None, account_id: str, command: RegisterProAccount, at: datetime
) -> tuple[Account, list[Event]]:
    """A new account with its owner as first member. The same registration again changes
    nothing but is answered again; another owner for the same account is refused."""
    registered = ProAccountRegistered(
        account_name=command.account_name,
        owner_user_id=command.owner_user_id,
        owner_email=command.owner_email,
    )
    if account is not None:
        if account.owner_user_id != command.owner_user_id:
            raise Refusal(
                RejectionReason.CONFLICT, "the account is already registered with another owner"
            )
        return account, [registered]
    new = Account(
        account_id,
        command.account_name,
        command.owner_user_id,
        command.owner_email,
        command.owner_name,
        at,
    )
    joined = MemberJoined(
        member_id=command.owner_user_id,
        email=command.owner_email,
        name=command.owner_name,
        roles=[Role.OWNER],
        invitation_id=None,
        joined_at=at,
    )
    return new, [registered, joined]


def decide_preferences(
    actor: TeamMember | None, account: Account | None, command: SetAccountPreferences
) -> tuple[Account, AccountPreferencesSet]:
    """The fields given replace the account's; the event states all of them."""
    require(actor, Permission.MANAGE_TEAM)
    if account is None:
        raise Refusal(RejectionReason.NOT_FOUND, "no such account")
    given = command.model_dump(exclude_none=True)
    preferences = replace(account.preferences, **given)
    return replace(account, preferences=preferences), AccountPreferencesSet(**asdict(preferences))


def _require_changeable_member(target: Person | None, member_id: str) -> Person:
    if target is None or target.status is not PersonStatus.ACTIVE:
        raise Refusal(RejectionReason.NOT_FOUND, f"no active member {member_id}")
    if target.is_owner:
        raise Refusal(
            RejectionReason.FORBIDDEN,
            "the account's owner can't be disconnected or given other roles",
        )
    return target


def decide_disconnect(
    actor: TeamMember | None, target: Person | None, member_id: str, at: datetime
) -> tuple[Person, MemberDisconnected]:
    manager = require(actor, Permission.MANAGE_TEAM)
    person = _require_changeable_member(target, member_id)
    assert person.member_id is not None
    return replace(person, status=PersonStatus.DISCONNECTED), MemberDisconnected(
        member_id=person.member_id,
        email=person.email,
        roles=list(person.roles),
        disconnected_by=manager.member_id,
        disconnected_at=at,
    )


def decide_change_roles(
    actor: TeamMember | None, target: Person | None, member_id: str, roles: list[Role]
) -> tuple[Person, MemberRolesChanged]:
    manager = require(actor, Permission.MANAGE_TEAM)
    person = _require_changeable_member(target, member_id)
    assert person.member_id is not None
    return replace(person, roles=tuple(roles)), MemberRolesChanged(
        member_id=person.member_id,
        roles=roles,
        previous_roles=list(person.roles),
        changed_by=manager.member_id,
    )


# ---- invitations.events: each returns the new row, None (unchanged) or REMOVED -----------


def on_invitation_created(
    person: Person | None, account_id: str, event: InvitationCreated, at: datetime
) -> Person | None:
    """A pending row; an active member is left alone (the invitation can't be accepted by them
    without a new join, and invitations refuses to invite active members anyway)."""
    if person is not None and person.status is PersonStatus.ACTIVE:
        return None
    base = person or Person(account_id, event.email, PersonStatus.PENDING, tuple(event.roles))
    return replace(
        base,
        status=PersonStatus.PENDING,
        roles=tuple(event.roles),
        name=event.invitee_name or base.name,
        invitation_id=event.invitation_id,
        invited_at=at,
        expires_at=event.expires_at,
        resend_count=0,
        pending_tags=_tags(event.security_tags),
        last_sent_at=at,
    )


def _tags(tags: list[str] | None) -> tuple[str, ...] | None:
    return None if tags is None else tuple(tags)


def on_invitation_resent(
    person: Person | None, event: InvitationResent, at: datetime | None = None
) -> Person | None:
    if person is None or person.invitation_id != event.invitation_id:
        return None
    if person.status not in (PersonStatus.PENDING, PersonStatus.EXPIRED):
        return None
    return replace(
        person,
        status=PersonStatus.PENDING,
        expires_at=event.expires_at,
        resend_count=max(person.resend_count, event.resend_count),
        pending_tags=_tags(event.security_tags),
        last_sent_at=at if at is not None else person.last_sent_at,
    )


def on_invitation_reminded(
    person: Person | None, event: InvitationReminded, at: datetime
) -> Person | None:
    """An automatic reminder went out with a new link: its email is the one to watch now."""
    if person is None or person.invitation_id != event.invitation_id:
        return None
    if person.status is not PersonStatus.PENDING:
        return None
    return replace(person, last_sent_at=at)


def on_invitation_expired(person: Person | None, event: InvitationExpired) -> Person | None:
    if (
        person is None
        or person.invitation_id != event.invitation_id
        or person.status is not PersonStatus.PENDING
    ):
        return None
    return replace(person, status=PersonStatus.EXPIRED)


def on_invitation_revoked(
    person: Person | None, event: InvitationRevoked
) -> Person | Removed | None:
    """The row goes away -- unless it is a former member, who is disconnected again."""
    if person is None or person.invitation_id != event.invitation_id:
        return None
    if person.status not in (PersonStatus.PENDING, PersonStatus.EXPIRED):
        return None
    if person.member_id is not None:
        return replace(person, status=PersonStatus.DISCONNECTED, expires_at=None)
    return REMOVED


def on_invitation_accepted(
    person: Person | None, account_id: str, event: InvitationAccepted
) -> tuple[Person | None, list[Event]]:
    """The invitee becomes an active member with the invited roles, once per invitation: the
    MemberJoined id comes from the invitation, however often InvitationAccepted arrives."""
    if person is not None and event.invitation_id in person.joined_invitations:
        return None, []  # this acceptance was applied already
    base = person or Person(account_id, event.email, PersonStatus.PENDING, tuple(event.roles))
    joined = replace(
        base,
        status=PersonStatus.ACTIVE,
        roles=tuple(event.roles),
        member_id=event.user_id,
        name=event.name or base.name,
        invitation_id=event.invitation_id,
        joined_at=event.accepted_at,
        expires_at=None,
        joined_invitations=(*base.joined_invitations, event.invitation_id),
        pending_tags=None,
    )
    member_joined = MemberJoined(
        member_id=event.user_id,
        email=event.email,
        name=joined.name,
        roles=list(event.roles),
        invitation_id=event.invitation_id,
        joined_at=event.accepted_at,
        security_tags=event.security_tags,
    )
    return joined, [Emit(member_joined, id_from=event.invitation_id)]
