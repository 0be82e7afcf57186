"""Each account's members' facts, kept in memory by the instance that owns the account.

A client's change moves the answers of the members who hold a tag it adds or drops (or, for a
client that appears or goes, of its audience). Reading those members was a round trip on the
change's path, after the client's own read. This instance alone writes an account's members
while it owns the account: access_control's two topics are read co-partitioned, and its
dispatch runs an account's records one at a time. So the members it read once stay true for as
long as it keeps them up to date with every member change it commits:

- an account's members are read whole on its first client change, then kept;
- `changed` after each committed member change; `forget` when a member change fails (its write
  may or may not have landed), so the next client change reads them again;
- `forget_all` whenever the partition assignment changes (the service's rebalance hook);
- an account's members are trusted for `kept` at most (a minute): the bound on how long an
  instance that lost its partitions without knowing it yet could decide from old facts.

A read under way when the account's members change (or are forgotten) is not kept.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.access_control.visibility import MemberFacts
from services.runtime.clock import Clock

KEPT = timedelta(minutes=1)
MAX_MEMBERS = 50_000  # members held across accounts: about 800 bytes each, 40 MB at most


@dataclass
class _Kept:
    read_at: datetime  # when the read these facts came from started
    members: dict[str, MemberFacts]


class MembersView:
    def __init__(
        self, clock: Clock, kept: timedelta = KEPT, max_members: int = MAX_MEMBERS
    ) -> None:
        self.clock = clock
        self.kept = kept
        self.max_members = max_members
        self._accounts: OrderedDict[str, _Kept] = OrderedDict()
        self._held = 0  # members in `_accounts`
        self._reading: dict[str, object] = {}  # account -> the token of the read under way

    async def of(
        self, account: str, read: Callable[[], Awaitable[list[MemberFacts]]]
    ) -> dict[str, MemberFacts]:
        """The account's members by id: as kept, or by `read` (all of them), then kept."""
        now = self.clock.now()
        kept = self._accounts.get(account)
        if kept is not None and now - kept.read_at < self.kept:
            self._accounts.move_to_end(account)
            return dict(kept.members)
        token = self._reading[account] = object()
        try:
            members = await read()
        finally:
            unchanged = self._reading.get(account) is token
            if unchanged:
                del self._reading[account]
        by_id = {member.member_id: member for member in members}
        if unchanged:
            self._keep(account, _Kept(now, dict(by_id)))
        return by_id

    def changed(self, account: str, member: MemberFacts) -> None:
        """`member` as this instance has just written it."""
        self._reading.pop(account, None)
        kept = self._accounts.get(account)
        if kept is None:
            return
        if member.member_id not in kept.members:
            self._held += 1
        kept.members[member.member_id] = member
        self._evict()

    def forget(self, account: str) -> None:
        self._reading.pop(account, None)
        kept = self._accounts.pop(account, None)
        if kept is not None:
            self._held -= len(kept.members)

    def forget_all(self) -> None:
        self._reading.clear()
        self._accounts.clear()
        self._held = 0

    def _keep(self, account: str, kept: _Kept) -> None:
        self.forget(account)
        if len(kept.members) > self.max_members:
            return
        self._accounts[account] = kept
        self._held += len(kept.members)
        self._evict()

    def _evict(self) -> None:
        """The least recently used accounts go first, until the members held fit."""
        while self._held > self.max_members:
            _, kept = self._accounts.popitem(last=False)
            self._held -= len(kept.members)
