"""access_control's aggregates and rules: a member's access facts, a client's tags, and the
visibility changes every command or membership event causes (pure; computed incrementally)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from contracts.common import RejectionReason, Role
from contracts.envelope import MessageData
from contracts.messages import MemberSecurityTagsSet
from services.access_control import visibility
from services.access_control.history import Because, Entry, records
from services.access_control.visibility import Change, ClientFacts, MemberFacts, fold
from services.runtime.authorisation import Permission, TeamMember, require
from services.runtime.rules import Emit, Event, Refusal


@dataclass(frozen=True)
class MemberAccess:
    """What decides a member's visibility. Tags set before the member joined are kept: they
    apply on joining."""

    account_id: str
    member_id: str
    status: str | None = None  # "active", "disconnected"; None: not seen joining yet
    roles: tuple[str, ...] = ()
    security_tags: tuple[str, ...] = ()

    @property
    def facts(self) -> MemberFacts:
        return MemberFacts(
            self.member_id, self.status == "active", frozenset(self.roles), fold(self.security_tags)
        )


def team_member(member: MemberFacts) -> TeamMember:
    """A member's facts as the authorisation rule reads them."""
    return TeamMember(member.member_id, frozenset(Role(r) for r in member.roles), member.active)


@dataclass(frozen=True)
class Client:
    account_id: str
    client_id: str
    security_tags: tuple[str, ...] = ()
    removed: bool = False

    @property
    def facts(self) -> ClientFacts | None:
        return None if self.removed else ClientFacts(self.client_id, fold(self.security_tags))


Reason = Callable[[str, str], visibility.Why | None]  # (member id, client id) -> why it is seen


def visibility_events(changes: dict[str, Change], reason: Reason, because: Because) -> list[Emit]:
    """The public ClientVisibilityChanged messages, then the record of them all (with
    reasons)."""
    events, entries = [], []
    for member_id in sorted(changes):
        for index, message in enumerate(visibility.messages(member_id, changes[member_id])):
            events.append(Emit(message, id_parts=(member_id, str(index))))
            reasons = {
                client: why.label()
                for client in message.granted
                if (why := reason(member_id, client)) is not None
            }
            entries.append(
                Entry(
                    member_id=member_id,
                    granted=message.granted,
                    revoked=message.revoked,
                    reasons=reasons,
                )
            )
    return [*events, *records(entries, because)]


def decide_client(
    actor: TeamMember | None,
    current: Client | None,
    new: Client,
    must_exist: bool,
    members: list[MemberFacts],
    because: Because,
    applied: MessageData,
) -> tuple[Client, list[Event]]:
    """Register, re-tag or remove (`new.removed`) a client: only its column of answers moves.
    `applied` (the command's acknowledgement) comes first: the command's one outcome."""
    require(actor, Permission.MANAGE_CLIENTS)
    old = None if current is None else current.facts
    if must_exist and old is None:
        raise Refusal(RejectionReason.NOT_FOUND, f"no client {new.client_id}")
    by_id = {member.member_id: member for member in members}
    after = new.facts

    def reason(member_id: str, client_id: str) -> visibility.Why | None:
        return None if after is None else visibility.why(by_id[member_id], after)

    changes = visibility.diff_for_client(members, old, after)
    return new, [applied, *visibility_events(changes, reason, because)]


def decide_member_tags(
    actor: TeamMember | None, current: MemberAccess, tags: list[str]
) -> tuple[MemberAccess, MemberSecurityTagsSet]:
    require(actor, Permission.MANAGE_TEAM)
    applied = MemberSecurityTagsSet(member_id=current.member_id, security_tags=tags)
    return replace(current, security_tags=tuple(tags)), applied


def member_changed(
    old: MemberAccess, new: MemberAccess, clients: list[ClientFacts], because: Because
) -> tuple[MemberAccess, list[Emit]]:
    """A member joined, changed roles or tags, or was disconnected: only their row moves.
    `clients`: at least every client whose answer can change (`visibility.tags_that_may_change`)."""
    change = visibility.diff_for_member(old.facts, new.facts, clients)
    by_id = {client.client_id: client for client in clients}
    facts = new.facts

    def reason(member_id: str, client_id: str) -> visibility.Why | None:
        return visibility.why(facts, by_id[client_id])

    return new, visibility_events({new.member_id: change}, reason, because)
