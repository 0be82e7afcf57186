"""A delivery: one email for one cause event, and the pure rules of its state machine.

    pending --sent--> sent
    pending --permanent failure, or the last attempt failed--> failed
    pending --transient failure--> pending (next attempt later, backing off)

The body (with its accept link) is kept only while the email may still be sent.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from contracts.messages import EmailDeferred, EmailFailed, EmailSent


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True)
class RetryRule:
    max_attempts: int
    base_seconds: float
    max_backoff_seconds: float

    def delay(self, attempts: int) -> timedelta:
        seconds = min(self.max_backoff_seconds, self.base_seconds * 2 ** (attempts - 1))
        return timedelta(seconds=seconds)


@dataclass(frozen=True)
class Delivery:
    cause_id: str
    template: str
    account_id: str
    correlation_id: str
    to: str
    message_id: str
    created_at: datetime
    status: DeliveryStatus = DeliveryStatus.PENDING
    attempts: int = 0
    to_name: str = ""
    subject: str = ""
    html: str | None = None
    text: str | None = None
    next_attempt_at: datetime | None = None
    last_error: str | None = None
    sent_at: datetime | None = None

    def leased(self, until: datetime) -> Delivery:
        """Claimed for one attempt: no one else makes it before `until` (the lease), and after
        it the delivery is due again, for when the claimant died before recording anything."""
        return replace(self, next_attempt_at=until)

    def sent(self, attempts: int, at: datetime) -> tuple[Delivery, EmailSent]:
        done = replace(
            self, status=DeliveryStatus.SENT, attempts=attempts, sent_at=at, html=None, text=None
        )
        return done, EmailSent(
            cause_id=self.cause_id, template=self.template, to=self.to, message_id=self.message_id
        )

    def failed_for_good(
        self, attempts: int, error: str, permanent: bool
    ) -> tuple[Delivery, EmailFailed]:
        done = replace(
            self,
            status=DeliveryStatus.FAILED,
            attempts=attempts,
            last_error=error,
            html=None,
            text=None,
        )
        return done, EmailFailed(
            cause_id=self.cause_id,
            template=self.template,
            to=self.to,
            error=error[:1000],
            attempts=attempts,
            permanent=permanent,
        )

    def after_failure(
        self, attempts: int, error: str, permanent: bool, now: datetime, rule: RetryRule
    ) -> tuple[Delivery, list[EmailFailed | EmailDeferred]]:
        """Given up (with EmailFailed) or scheduled for another attempt: the first time with
        EmailDeferred (the Users page says "retrying"), later attempts quietly."""
        if permanent or attempts >= rule.max_attempts:
            done, event = self.failed_for_good(attempts, error, permanent)
            return done, [event]
        retry_at = now + rule.delay(attempts)
        later = replace(self, attempts=attempts, last_error=error, next_attempt_at=retry_at)
        if attempts > 1:
            return later, []
        deferred = EmailDeferred(
            cause_id=self.cause_id,
            template=self.template,
            to=self.to,
            error=error[:1000],
            attempts=attempts,
            next_attempt_at=retry_at,
        )
        return later, [deferred]
