"""Who may do what in an account: one rule for every service, read from its projection of
membership.events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from contracts.common import RejectionReason, Role
from contracts.envelope import RawEnvelope
from services.runtime.clock import Clock
from services.runtime.projection import with_grace
from services.runtime.rules import Refusal


@dataclass(frozen=True)
class TeamMember:
    """What a service knows of a user in an account."""

    member_id: str
    roles: frozenset[Role]
    active: bool


class Permission(Enum):
    MANAGE_TEAM = (frozenset({Role.OWNER, Role.ADMINISTRATOR}), "owner or administrator")
    MANAGE_CLIENTS = (
        frozenset({Role.OWNER, Role.ADMINISTRATOR, Role.CLIENT_ADMINISTRATOR}),
        "owner, administrator or client administrator",
    )

    def __init__(self, roles: frozenset[Role], who: str) -> None:
        self.roles = roles
        self.who = who


def may(member: TeamMember | None, permission: Permission) -> bool:
    return member is not None and member.active and bool(member.roles & permission.roles)


def require(member: TeamMember | None, permission: Permission) -> TeamMember:
    if member is None or not may(member, permission):
        raise Refusal(
            RejectionReason.FORBIDDEN,
            f"only an active {permission.who} of the account may do this",
        )
    return member


MemberLookup = Callable[[str, str], Awaitable[TeamMember | None]]


class Authoriser:
    """Finds the actor of a command in the projection, waiting `grace` seconds for a young
    command whose actor's MemberJoined may still be on its way (another topic)."""

    def __init__(self, lookup: MemberLookup, clock: Clock, grace_seconds: float) -> None:
        self.lookup = lookup
        self.clock = clock
        self.grace = grace_seconds

    async def actor(self, command: RawEnvelope) -> TeamMember | None:
        actor_id = command.actorid
        if not actor_id:
            return None
        return await with_grace(
            lambda: self.lookup(command.accountid, actor_id), command.time, self.grace, self.clock
        )

    async def require(self, command: RawEnvelope, permission: Permission) -> TeamMember:
        return require(await self.actor(command), permission)
