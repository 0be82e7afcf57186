"""The visibility rule as one pure function, and the incremental diffs.

- A member who is not active sees no client.
- An active owner or administrator sees every client of the account.
- Any other active member with no security tags sees every client; with tags, exactly the
  clients that carry at least one of the same tags (compared case-insensitively).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from contracts.common import Role
from contracts.messages import MAX_VISIBILITY_IDS, ClientVisibilityChanged

SEE_ALL_ROLES = frozenset({Role.OWNER.value, Role.ADMINISTRATOR.value})


def fold(tags: Iterable[str]) -> frozenset[str]:
    return frozenset(tag.strip().casefold() for tag in tags if tag.strip())


@dataclass(frozen=True)
class MemberFacts:
    member_id: str
    active: bool = False
    roles: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()  # folded


@dataclass(frozen=True)
class ClientFacts:
    client_id: str
    tags: frozenset[str] = frozenset()  # folded


@dataclass(frozen=True)
class Scope:
    """The clients a member sees: all of them, or those carrying one of `tags` (none when
    `tags` is empty and `everything` is False). The incremental diffs and the API's query
    both read the rule from here."""

    everything: bool
    tags: frozenset[str] = frozenset()

    def includes(self, client: ClientFacts) -> bool:
        return self.everything or bool(self.tags & client.tags)

    @property
    def nothing(self) -> bool:
        return not self.everything and not self.tags


def scope(member: MemberFacts) -> Scope:
    if not member.active:
        return Scope(everything=False)
    if member.roles & SEE_ALL_ROLES or not member.tags:
        return Scope(everything=True)
    return Scope(everything=False, tags=member.tags)


def sees(member: MemberFacts, client: ClientFacts) -> bool:
    return scope(member).includes(client)


@dataclass(frozen=True)
class Why:
    """Why a member sees a client: their role, having no tags, or the tags they share."""

    reason: str  # "role" | "untagged" | "tags"
    tags: tuple[str, ...] = ()

    def label(self) -> str:
        return f"tags:{','.join(self.tags)}" if self.reason == "tags" else self.reason

    def as_json(self) -> dict[str, object]:
        return {"reason": self.reason, "tags": list(self.tags)}


def why(member: MemberFacts, client: ClientFacts) -> Why | None:
    """The same rule as `scope`, with its reason; None when the member does not see the client."""
    if not member.active:
        return None
    if member.roles & SEE_ALL_ROLES:
        return Why("role")
    if not member.tags:
        return Why("untagged")
    shared = member.tags & client.tags
    return Why("tags", tuple(sorted(shared))) if shared else None


def visible_clients(member: MemberFacts, clients: Iterable[ClientFacts]) -> set[str]:
    seen = scope(member)
    return {c.client_id for c in clients if seen.includes(c)}


def full_recompute(
    members: Iterable[MemberFacts], clients: Iterable[ClientFacts]
) -> dict[str, set[str]]:
    client_list = list(clients)
    return {m.member_id: visible_clients(m, client_list) for m in members}


@dataclass
class Change:
    granted: list[str] = field(default_factory=list)
    revoked: list[str] = field(default_factory=list)


def diff_for_client(
    members: Iterable[MemberFacts], old: ClientFacts | None, new: ClientFacts | None
) -> dict[str, Change]:
    """One client changed (registered, re-tagged, removed): only members' answers for it."""
    changes: dict[str, Change] = {}
    for member in members:
        seen = scope(member)
        before = old is not None and seen.includes(old)
        after = new is not None and seen.includes(new)
        if before != after:
            client_id = (new or old).client_id  # type: ignore[union-attr]
            change = changes.setdefault(member.member_id, Change())
            (change.granted if after else change.revoked).append(client_id)
    return changes


def diff_for_member(old: MemberFacts, new: MemberFacts, clients: Iterable[ClientFacts]) -> Change:
    """One member changed (joined, roles, tags, disconnected): only that member's answers."""
    change = Change()
    old_scope, new_scope = scope(old), scope(new)
    for client in clients:
        before, after = old_scope.includes(client), new_scope.includes(client)
        if before != after:
            (change.granted if after else change.revoked).append(client.client_id)
    change.granted.sort()
    change.revoked.sort()
    return change


def tags_that_may_change(old: MemberFacts, new: MemberFacts) -> frozenset[str] | None:
    """Only clients carrying one of these tags can see their answer for the member change
    (None: any client can, when either side sees everything). A client outside both scopes
    or inside both keeps its answer, so a member's re-tag reads only the clients of the tags
    it adds or drops, not the whole account."""
    before, after = scope(old), scope(new)
    if before.everything and after.everything:
        return frozenset()
    if before.everything or after.everything:
        return None
    return before.tags ^ after.tags


def member_tags_that_may_change(
    old: ClientFacts | None, new: ClientFacts | None
) -> frozenset[str] | None:
    """A client's re-tag moves only the answers of restricted members holding one of the tags it
    adds or drops: members who see everything see it before and after, and a member sharing
    none of those tags shares the same tags with it before and after. None: the client appears
    or disappears, and everyone who sees it (its audience) may change."""
    if old is None and new is None:
        return frozenset()
    if old is None or new is None:
        return None
    return old.tags ^ new.tags


def members_concerned(
    members: Iterable[MemberFacts], old: ClientFacts | None, new: ClientFacts | None
) -> list[MemberFacts]:
    """Of `members`, at least every one whose answer the client's change can move: the active
    members holding a tag it adds or drops, or, when the client appears or goes, its audience."""
    tags = member_tags_that_may_change(old, new)
    if tags is None:
        client = new or old
        assert client is not None
        return [member for member in members if sees(member, client)]
    if not tags:
        return []
    return [member for member in members if member.active and member.tags & tags]


def messages(member_id: str, change: Change) -> list[ClientVisibilityChanged]:
    """At most 1,000 ids per list; more go in further messages. Nothing when nothing changed."""
    granted, revoked = sorted(change.granted), sorted(change.revoked)
    count = max(-(-len(granted) // MAX_VISIBILITY_IDS), -(-len(revoked) // MAX_VISIBILITY_IDS))
    return [
        ClientVisibilityChanged(
            member_id=member_id,
            granted=granted[i * MAX_VISIBILITY_IDS : (i + 1) * MAX_VISIBILITY_IDS],
            revoked=revoked[i * MAX_VISIBILITY_IDS : (i + 1) * MAX_VISIBILITY_IDS],
        )
        for i in range(count)
    ]


def apply(view: dict[str, set[str]], message: ClientVisibilityChanged) -> None:
    """What a downstream consumer does with an event (used to check the events replay)."""
    seen = view.setdefault(message.member_id, set())
    seen.difference_update(message.revoked)
    seen.update(message.granted)
