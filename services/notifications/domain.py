"""What an email says and to whom, as pure functions: no SMTP, no database, no clock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from email_validator import EmailNotValidError, validate_email

from contracts.common import Locale, Role
from services.notifications import i18n

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
    """In English (`i18n.roles_in_words` says it in the reader's language)."""
    return i18n.roles_in_words(roles)


def accept_link(base: str, account_id: str, invitation_id: str, token: str) -> str:
    return (
        f"{base.rstrip('/')}/accounts/{quote(account_id, safe='')}"
        f"/invitations/{quote(invitation_id, safe='')}/accept?token={quote(token, safe='')}"
    )


def message_id(cause_id: str, domain: str) -> str:
    """Derived from the cause event, so a duplicate send (the allowed crash window) folds."""
    return f"<{cause_id}@{domain}>"


def readable_time(value: datetime) -> str:
    """In English and UTC (`i18n.readable_time` says it in the reader's language and zone)."""
    return i18n.readable_time(value, Locale.EN, None)


@dataclass(frozen=True)
class InvitationEmail:
    """Everything the invitation templates show."""

    product_name: str
    account_name: str
    inviter_name: str | None  # None: "your team's administrator", in the reader's language
    invitee_name: str | None  # None: "Hi there"
    roles: str
    message: str | None
    accept_url: str
    expires: str
    reminder: bool


@dataclass(frozen=True)
class WelcomeEmail:
    product_name: str
    account_name: str
    member_name: str | None
    roles: str
