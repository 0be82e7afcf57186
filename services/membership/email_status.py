"""The delivery of a person's invitation email, as the Users page shows it: pure rules over
the notifications service's EmailSent / EmailDeferred / EmailFailed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

INVITATION_TEMPLATES = frozenset({"invitation", "reminder"})


class EmailStatus(StrEnum):
    SENDING = "sending"  # a link was issued; no word from the email yet
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"


@dataclass(frozen=True)
class EmailOutcome:
    """The newest word about the invitation email to one address."""

    account_id: str
    email: str
    at: datetime  # when notifications said it
    status: EmailStatus
    reason: str | None = None  # a failure's, as the SMTP server gave it


def newer(current: EmailOutcome | None, incoming: EmailOutcome) -> EmailOutcome | None:
    """The outcome to keep (None: keep the current one): the later word wins; at the same
    moment, a final word (sent, failed) wins over retrying."""
    if current is None or incoming.at > current.at:
        return incoming
    if incoming.at == current.at and current.status is EmailStatus.RETRYING:
        return incoming if incoming.status is not EmailStatus.RETRYING else None
    return None


def shown(
    outcome: EmailOutcome | None, last_sent_at: datetime | None
) -> tuple[EmailStatus, str | None]:
    """What a pending row says about its email: the newest word since the latest link was
    issued; a word about an older link (a resend came after it) no longer counts."""
    if outcome is None or (last_sent_at is not None and outcome.at < last_sent_at):
        return EmailStatus.SENDING, None
    reason = outcome.reason if outcome.status is EmailStatus.FAILED else None
    return outcome.status, reason
