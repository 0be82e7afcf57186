"""What the accept page may show an invitee who holds a link, as pure rules: the look-up
answers only for a live token of the invitation, shows the email masked, and never consumes
the token (it changes nothing)."""

from __future__ import annotations

import hmac
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.invitations.domain import Invitation, Status, hash_token

# Compared against when the invitation is unknown, so an unknown id costs what a wrong token
# costs (the answer is the same: invalid_token).
_NO_SUCH_LINK = hash_token("no such invitation link")


@dataclass(frozen=True)
class InvitationView:
    invitation_id: str
    status: Status
    account_name: str
    inviter_name: str | None
    roles: list[str]
    expires_at: datetime
    email_masked: str


def mask_email(email: str) -> str:
    """`ann@example.com` -> `a***@example.com`: enough to recognise, not to harvest."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def look_up(
    inv: Invitation | None, token: str, now: datetime, live_links: int
) -> InvitationView | None:
    """The view of `inv` for the holder of `token`; None when the token is not one of its
    live links or there is no such invitation (the caller answers both alike)."""
    token_hash = hash_token(token)
    if inv is None:
        hmac.compare_digest(token_hash, _NO_SUCH_LINK)
        return None
    if not inv.knows_token(token_hash, live_links):
        return None
    return InvitationView(
        invitation_id=inv.id,
        status=inv.status_at(now),
        account_name=inv.account_name,
        inviter_name=inv.inviter_name,
        roles=[role.value for role in inv.roles],
        expires_at=inv.expires_at,
        email_masked=mask_email(inv.email),
    )


class RateLimit:
    """At most `limit` look-ups of one invitation in any `window` (per process), so a link's
    token can't be guessed by asking: a sliding window of recent times per key, bounded
    memory (the least recently used keys are forgotten first)."""

    def __init__(self, limit: int, window: timedelta, max_keys: int = 100_000) -> None:
        self.limit = limit
        self.window = window
        self.max_keys = max_keys
        self._recent: OrderedDict[str, deque[datetime]] = OrderedDict()

    def retry_after(self, key: str, now: datetime) -> float | None:
        """None: allowed (and counted); else seconds until the next look-up is allowed."""
        times = self._recent.pop(key, None) or deque()
        while times and now - times[0] >= self.window:
            times.popleft()
        self._recent[key] = times
        while len(self._recent) > self.max_keys:
            self._recent.popitem(last=False)
        if len(times) >= self.limit:
            return (times[0] + self.window - now).total_seconds()
        times.append(now)
        return None
