"""Membership rules as pure functions: who is on the team, in which roles, in which state.

One `Person` per account and normalised email: a pending invitation, an active member and a
disconnected member are states of the same row (the Users page shows one row per person).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from contracts.common import RejectionReason, Role
from contracts.messages import (
    InvitationAccepted,
    InvitationCreated,
    InvitationExpired,
    InvitationResent,
    InvitationRevoked,
    MemberDisconnected,
    MemberJoined,
    MemberRolesChanged,
)


class Refusal(Exception):
    def __init__(self, reason: RejectionReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


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

    @property
    def is_owner(self) -> bool:
        return Role.OWNER in self.roles

    @property
    def manages_team(self) -> bool:
        return self.status is PersonStatus.ACTIVE and bool(
            set(self.roles) & {Role.OWNER, Role.ADMINISTRATOR}
        )


def owner(account_id: str, user_id: str, email: str, name: str | None, at: datetime) -> Person:
    return Person(
        account_id=account_id,
        email=email,
        status=PersonStatus.ACTIVE,
        roles=(Role.OWNER,),
        member_id=user_id,
        name=name,
        joined_at=at,
    )


def check_registration(existing_owner_id: str | None, owner_user_id: str) -> bool:
    """True when the account must be created; False when it exists for the same owner."""
    if existing_owner_id is None:
        return True
    if existing_owner_id != owner_user_id:
        raise Refusal(
            RejectionReason.CONFLICT, "the account is already registered with another owner"
        )
    return False


def _require_manager(actor: Person | None) -> Person:
    if actor is None or not actor.manages_team:
        raise Refusal(
            RejectionReason.FORBIDDEN,
            "only an active owner or administrator of the account may do this",
        )
    return actor


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
    actor: Person | None, target: Person | None, member_id: str, at: datetime
) -> tuple[Person, MemberDisconnected]:
    manager = _require_manager(actor)
    person = _require_changeable_member(target, member_id)
    assert person.member_id is not None and manager.member_id is not None
    return replace(person, status=PersonStatus.DISCONNECTED), MemberDisconnected(
        member_id=person.member_id,
        email=person.email,
        roles=list(person.roles),
        disconnected_by=manager.member_id,
        disconnected_at=at,
    )


def decide_change_roles(
    actor: Person | None, target: Person | None, member_id: str, roles: list[Role]
) -> tuple[Person, MemberRolesChanged]:
    manager = _require_manager(actor)
    person = _require_changeable_member(target, member_id)
    assert person.member_id is not None and manager.member_id is not None
    return replace(person, roles=tuple(roles)), MemberRolesChanged(
        member_id=person.member_id,
        roles=roles,
        previous_roles=list(person.roles),
        changed_by=manager.member_id,
    )


# ---- invitations.events ---------------------------------------------------------------------


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
    )


def on_invitation_resent(person: Person | None, event: InvitationResent) -> Person | None:
    if person is None or person.invitation_id != event.invitation_id:
        return None
    if person.status not in (PersonStatus.PENDING, PersonStatus.EXPIRED):
        return None
    return replace(
        person,
        status=PersonStatus.PENDING,
        expires_at=event.expires_at,
        resend_count=max(person.resend_count, event.resend_count),
    )


def on_invitation_expired(person: Person | None, event: InvitationExpired) -> Person | None:
    if (
        person is None
        or person.invitation_id != event.invitation_id
        or person.status is not PersonStatus.PENDING
    ):
        return None
    return replace(person, status=PersonStatus.EXPIRED)


def on_invitation_revoked(person: Person | None, event: InvitationRevoked) -> Person | bool | None:
    """The row goes away (False) -- unless it is a former member, who is disconnected again."""
    if person is None or person.invitation_id != event.invitation_id:
        return None
    if person.status not in (PersonStatus.PENDING, PersonStatus.EXPIRED):
        return None
    if person.member_id is not None:
        return replace(person, status=PersonStatus.DISCONNECTED, expires_at=None)
    return False


def on_invitation_accepted(
    person: Person | None, account_id: str, event: InvitationAccepted
) -> tuple[Person, MemberJoined] | None:
    """The invitee becomes an active member with the invited roles, once per invitation."""
    if person is not None and event.invitation_id in person.joined_invitations:
        return None  # this acceptance was applied already, however often it is delivered
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
    )
    return joined, MemberJoined(
        member_id=event.user_id,
        email=event.email,
        name=joined.name,
        roles=list(event.roles),
        invitation_id=event.invitation_id,
        joined_at=event.accepted_at,
    )
