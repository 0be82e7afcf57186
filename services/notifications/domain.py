"""What an email says and to whom, as pure functions: no SMTP, no database, no clock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from email_validator import EmailNotValidError, validate_email

from contracts.common import Role

ROLE_WORDS = {
    Role.OWNER: "Owner",
    Role.PRACTITIONER: "Practitioner",
    Role.ADMINISTRATOR: "Administrator",
    Role.CLIENT_ADMINISTRATOR: "Client administrator",
    Role.BILLING_ADMINISTRATOR: "Billing administrator",
}

_LINE_BREAKS = re.compile(r"[\r\n\x00-\x1f\x7f\u2028\u2029]+")


class BadRecipient(ValueError):
    """The address can never receive mail: a permanent failure, not a crash."""


def header_safe(text: str | None, limit: int = 200) -> str:
    """One line, no control characters: a name or subject can't start a new header."""
    return _LINE_BREAKS.sub(" ", text or "").strip()[:limit]


def recipient(address: str) -> str:
    if _LINE_BREAKS.search(address):
        raise BadRecipient("recipient address contains a line break or control character")
    try:
        return validate_email(address, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise BadRecipient(f"invalid recipient address: {exc}") from exc


def roles_in_words(roles: list[Role]) -> str:
    words = [ROLE_WORDS.get(Role(r), str(r)) for r in roles]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def accept_link(base: str, account_id: str, invitation_id: str, token: str) -> str:
    return (
        f"{base.rstrip('/')}/accounts/{quote(account_id, safe='')}"
        f"/invitations/{quote(invitation_id, safe='')}/accept?token={quote(token, safe='')}"
    )


def message_id(cause_id: str, domain: str) -> str:
    """Derived from the cause event, so a duplicate send (the allowed crash window) folds."""
    return f"<{cause_id}@{domain}>"


def readable_time(value: datetime) -> str:
    return value.strftime("%A, %-d %B %Y at %H:%M UTC")


@dataclass(frozen=True)
class InvitationEmail:
    """Everything the invitation templates show."""

    product_name: str
    account_name: str
    inviter_name: str
    invitee_name: str
    roles: str
    message: str | None
    accept_url: str
    expires: str
    reminder: bool

    @property
    def subject(self) -> str:
        prefix = "Reminder: " if self.reminder else ""
        return header_safe(
            f"{prefix}{self.inviter_name} invited you to join {self.account_name} "
            f"on {self.product_name}",
            250,
        )


@dataclass(frozen=True)
class WelcomeEmail:
    product_name: str
    account_name: str
    member_name: str
    roles: str

    @property
    def subject(self) -> str:
        return header_safe(f"Welcome to {self.account_name} on {self.product_name}", 250)
