"""Turn invitation and membership events into emails: render, record, send, retry, report."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from contracts.envelope import CloudEvent, RawEnvelope, derived_id
from contracts.messages import (
    EmailFailed,
    EmailSent,
    InvitationLinkIssued,
    MemberJoined,
    ProAccountRegistered,
)
from contracts.topics import NOTIFICATIONS_EVENTS
from services.notifications import domain
from services.notifications.domain import BadRecipient, InvitationEmail, WelcomeEmail
from services.notifications.mailer import Mailer, Outgoing, Renderer, SendFailure, build_message
from services.notifications.settings import NotificationsSettings
from services.notifications.store import FAILED, PENDING, SENT, DeliveryStore
from services.runtime.clock import Clock
from services.runtime.documents import VersionConflict
from services.runtime.inbound import Parsed
from services.runtime.mongo import Document, is_transient
from services.runtime.outbox import Outbox, outbox_entry

log = logging.getLogger(__name__)


class NotificationHandlers:
    def __init__(
        self,
        store: DeliveryStore,
        outbox: Outbox,
        mailer: Mailer,
        settings: NotificationsSettings,
        clock: Clock,
        source: str,
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.mailer = mailer
        self.renderer = Renderer()
        self.settings = settings
        self.clock = clock
        self.source = source

    # ---- inbound events ----------------------------------------------------------------------

    async def on_link_issued(self, parsed: Parsed) -> None:
        data = parsed.data
        if isinstance(data, InvitationLinkIssued):
            await self._deliver(
                parsed.envelope,
                "invitation",
                data.email,
                data.invitee_name,
                lambda: self._invitation_email(parsed.envelope, data),
            )

    async def on_membership_event(self, parsed: Parsed) -> None:
        envelope, data = parsed.envelope, parsed.data
        if isinstance(data, ProAccountRegistered):
            await self.store.put_account(envelope.accountid, data.account_name)
        elif (
            isinstance(data, MemberJoined)
            and data.invitation_id is not None  # not the owner
            and self.settings.send_welcome_email
        ):
            await self._deliver(
                envelope,
                "welcome",
                data.email,
                data.name,
                lambda: self._welcome_email(envelope, data),
            )

    # ---- composing ---------------------------------------------------------------------------

    async def _invitation_email(
        self, envelope: RawEnvelope, data: InvitationLinkIssued
    ) -> InvitationEmail:
        return InvitationEmail(
            product_name=self.settings.product_name,
            account_name=data.account_name,
            inviter_name=data.inviter_name or "Your team's administrator",
            invitee_name=data.invitee_name or "there",
            roles=domain.roles_in_words(data.roles),
            message=data.message,
            accept_url=domain.accept_link(
                self.settings.accept_url_base,
                envelope.accountid,
                data.invitation_id,
                data.accept_token,
            ),
            expires=domain.readable_time(data.expires_at),
            reminder=data.resend_count > 0,
        )

    async def _welcome_email(self, envelope: RawEnvelope, data: MemberJoined) -> WelcomeEmail:
        return WelcomeEmail(
            product_name=self.settings.product_name,
            account_name=await self.store.account_name(envelope.accountid) or envelope.accountid,
            member_name=data.name or "there",
            roles=domain.roles_in_words(data.roles),
        )

    async def _deliver(
        self, cause: RawEnvelope, template: str, to: str, to_name: str | None, compose: Any
    ) -> None:
        now = self.clock.now()
        doc: Document = {
            "_id": cause.id,
            "template": template,
            "accountid": cause.accountid,
            "correlationid": cause.correlationid or cause.id,
            "to": to,
            "created_at": now,
            "attempts": 0,
            "message_id": domain.message_id(cause.id, self.settings.message_id_domain),
        }
        try:
            address = domain.recipient(to)
        except BadRecipient as bad:
            failed = self._result(doc, permanent=True, error=str(bad))
            await self.store.create({**doc, "status": FAILED, "outbox": [failed]})
            await self._flush(cause.id)  # ours, or the one recorded for this event before
            return
        email = await compose()
        html, text = await self.renderer.render(template, email)
        doc.update(
            to=address,
            to_name=domain.header_safe(to_name),
            subject=email.subject,
            html=html,
            text=text,
            status=PENDING,
            # the retrier leaves it alone while this first attempt runs
            next_attempt_at=now + timedelta(seconds=self._lease_seconds()),
        )
        if not await self.store.create(doc):
            await self._flush(cause.id)  # the same event again: at most one email
            return
        await self.attempt(doc)

    # ---- sending -----------------------------------------------------------------------------

    async def attempt(self, doc: Document) -> None:
        outgoing = Outgoing(
            doc["to"],
            doc.get("to_name", ""),
            doc["subject"],
            doc["html"],
            doc["text"],
            doc["message_id"],
        )
        attempts = doc["attempts"] + 1
        if not await self.store.claim(doc["_id"], attempts, self._lease_number()):
            return  # another instance is making this attempt
        try:
            await self.mailer.send(build_message(outgoing, self.settings))
        except SendFailure as failure:
            if failure.permanent or attempts >= self.settings.smtp_max_attempts:
                changes = {"status": FAILED, "attempts": attempts, "last_error": failure.error}
                entry = self._result(
                    {**doc, "attempts": attempts}, failure.permanent, failure.error
                )
                written = await self.store.save(doc, changes, [entry])
                log.warning("email %s failed for good: %s", doc["_id"], failure.error)
                await self.outbox.flush(self.store.deliveries, written)
            else:
                delay = min(
                    self.settings.smtp_retry_max_backoff_seconds,
                    self.settings.smtp_retry_base_seconds * 2 ** (attempts - 1),
                )
                await self.store.save(
                    doc,
                    {
                        "attempts": attempts,
                        "last_error": failure.error,
                        "next_attempt_at": self.clock.now() + timedelta(seconds=delay),
                    },
                    [],
                )
                log.warning(
                    "email %s attempt %d failed, retrying in %.0fs: %s",
                    doc["_id"],
                    attempts,
                    delay,
                    failure.error,
                )
            return
        entry = self._result({**doc, "attempts": attempts})
        sent = {"status": SENT, "attempts": attempts, "sent_at": self.clock.now()}
        written = await self._record_after_sending(lambda: self.store.save(doc, sent, [entry]))
        await self.outbox.flush(self.store.deliveries, written)

    async def _record_after_sending(self, save: Callable[[], Awaitable[Document]]) -> Document:
        """The email has left: record that however long the database takes to come back. Giving
        up here would let a later attempt email the person a second time."""
        delay = self.settings.smtp_retry_base_seconds
        while True:
            try:
                return await save()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("email sent, not recorded yet (will retry): %r", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.smtp_retry_max_backoff_seconds)

    async def retry_due(self) -> int:
        retried = 0
        for doc in await self.store.due(self.clock.now()):
            try:
                await self.attempt(doc)
                retried += 1
            except VersionConflict:
                continue
        return retried

    async def run_retrier(self) -> None:
        while True:
            try:
                await self.retry_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("delivery retry round failed; will retry")
            await asyncio.sleep(self.settings.delivery_retry_poll_seconds)

    # ---- helpers -----------------------------------------------------------------------------

    def _lease_seconds(self) -> float:
        return self.settings.smtp_timeout_seconds * 3

    def _lease_number(self) -> int:
        return int(self.clock.now().timestamp() // self._lease_seconds())

    def _result(self, doc: Document, permanent: bool | None = None, error: str = "") -> Document:
        """EmailSent, or EmailFailed when `permanent` is given."""
        data: BaseModel
        if permanent is None:
            event_type = "EmailSent"
            data = EmailSent(
                cause_id=doc["_id"],
                template=doc["template"],
                to=doc["to"],
                message_id=doc["message_id"],
            )
        else:
            event_type = "EmailFailed"
            data = EmailFailed(
                cause_id=doc["_id"],
                template=doc["template"],
                to=doc["to"],
                error=error[:1000],
                attempts=doc["attempts"],
                permanent=permanent,
            )
        event = CloudEvent[Any](
            id=derived_id(doc["_id"], event_type),
            source=self.source,
            type=event_type,
            accountid=doc["accountid"],
            correlationid=doc["correlationid"],
            causationid=doc["_id"],
            data=data,
        )
        return outbox_entry(NOTIFICATIONS_EVENTS, event)

    async def _flush(self, cause_id: str) -> None:
        doc = await self.store.get(cause_id)
        if doc is not None:
            await self.outbox.flush(self.store.deliveries, doc)
