"""Turn invitation and membership events into emails: render, record, send, retry, report."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import timedelta
from typing import TypeVar

from contracts.common import Locale
from contracts.messages import (
    AccountPreferencesSet,
    InvitationLinkIssued,
    MemberJoined,
    ProAccountRegistered,
)
from services.notifications import domain, i18n
from services.notifications.delivery import Delivery, RetryRule
from services.notifications.domain import BadRecipient, InvitationEmail, WelcomeEmail
from services.notifications.mailer import Renderer, Sender, SendFailure
from services.notifications.mime import Outgoing, build_message
from services.notifications.settings import NotificationsSettings
from services.notifications.store import DeliveryStore
from services.runtime.cancellation import raise_if_cancelled
from services.runtime.clock import Clock
from services.runtime.collection import VersionConflict
from services.runtime.dispatch import Dispatch, Message
from services.runtime.events import Cause
from services.runtime.metrics import Metrics
from services.runtime.mongo import is_transient
from services.runtime.unit_of_work import Stored, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

Email = InvitationEmail | WelcomeEmail
M = TypeVar("M", InvitationLinkIssued, MemberJoined)


class NotificationHandlers:
    def __init__(
        self,
        store: DeliveryStore,
        unit_of_work: UnitOfWorkFactory,
        mailer: Sender,
        settings: NotificationsSettings,
        clock: Clock,
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.metrics = metrics
        self.unit_of_work = unit_of_work
        self.mailer = mailer
        self.renderer = Renderer()
        self.settings = settings
        self.clock = clock
        self.retry_rule = RetryRule(
            settings.smtp_max_attempts,
            settings.smtp_retry_base_seconds,
            settings.smtp_retry_max_backoff_seconds,
        )

    def register_all(self, dispatch: Dispatch) -> Dispatch:
        return (
            dispatch.on(InvitationLinkIssued, self.link_issued)
            .on(ProAccountRegistered, self.account_registered)
            .on(MemberJoined, self.member_joined)
            .on(AccountPreferencesSet, self.preferences_set)
        )

    # ---- inbound events ----------------------------------------------------------------------

    async def link_issued(self, msg: Message[InvitationLinkIssued], uow: UnitOfWork) -> None:
        data = msg.data
        await self._deliver(
            msg, uow, "invitation", data.email, data.invitee_name, self._invitation_email
        )

    async def account_registered(self, msg: Message[ProAccountRegistered], _: UnitOfWork) -> None:
        await self.store.accounts.put(msg.account_id, msg.data.account_name)

    async def preferences_set(self, msg: Message[AccountPreferencesSet], _: UnitOfWork) -> None:
        await self.store.accounts.put_preferences(msg.account_id, msg.data.model_dump(mode="json"))

    async def member_joined(self, msg: Message[MemberJoined], uow: UnitOfWork) -> None:
        if msg.data.invitation_id is None or not self.settings.send_welcome_email:
            return  # the owner joins by registering, and gets no welcome
        await self._deliver(msg, uow, "welcome", msg.data.email, msg.data.name, self._welcome_email)

    # ---- composing ---------------------------------------------------------------------------

    async def _reader(self, account_id: str, asked: str | None) -> tuple[Locale, str | None]:
        """The language (the invitation's, else the account's, else English) and the time
        zone (the account's, else UTC) an email is written in."""
        preferences = await self.store.accounts.preferences(account_id)
        locale = i18n.resolve(asked, preferences.get("locale"))
        return locale, preferences.get("time_zone")

    async def _invitation_email(
        self, msg: Message[InvitationLinkIssued]
    ) -> tuple[InvitationEmail, Locale]:
        data = msg.data
        locale, time_zone = await self._reader(
            msg.account_id, None if data.locale is None else data.locale.value
        )
        say = i18n.translations(locale).gettext
        email = InvitationEmail(
            product_name=self.settings.product_name,
            account_name=data.account_name,
            inviter_name=data.inviter_name,
            invitee_name=data.invitee_name,
            roles=i18n.roles_in_words(data.roles, say),
            message=data.message,
            accept_url=domain.accept_link(
                self.settings.accept_url_base, msg.account_id, data.invitation_id, data.accept_token
            ),
            expires=i18n.readable_time(data.expires_at, locale, time_zone),
            reminder=data.resend_count > 0,
        )
        return email, locale

    async def _welcome_email(self, msg: Message[MemberJoined]) -> tuple[WelcomeEmail, Locale]:
        locale, _ = await self._reader(msg.account_id, None)
        email = WelcomeEmail(
            product_name=self.settings.product_name,
            account_name=await self.store.accounts.get(msg.account_id) or msg.account_id,
            member_name=msg.data.name,
            roles=i18n.roles_in_words(msg.data.roles, i18n.translations(locale).gettext),
        )
        return email, locale

    async def _deliver(
        self,
        msg: Message[M],
        uow: UnitOfWork,
        template: str,
        to: str,
        to_name: str | None,
        compose: Callable[[Message[M]], Awaitable[tuple[Email, Locale]]],
    ) -> None:
        """At most one delivery per cause event: the same event again only republishes (its
        delivery is not read first: the insert finds it, before anything is sent)."""
        stored = uow.assume_new(self.store.deliveries)
        email, locale = await compose(msg)
        now = self.clock.now()
        delivery = Delivery(
            cause_id=msg.envelope.id,
            template=template,
            account_id=msg.account_id,
            correlation_id=uow.cause.correlation_id,
            to=to,
            message_id=domain.message_id(msg.envelope.id, self.settings.message_id_domain),
            created_at=now,
        )
        try:
            address = domain.recipient(to)
        except BadRecipient as bad:
            failed, event = delivery.failed_for_good(0, str(bad), permanent=True)
            await uow.commit(stored, failed, [event])
            self._count(template, "failed")
            return
        rendered = await self.renderer.render_all(template, email, locale)
        ready = replace(
            delivery,
            to=address,
            to_name=domain.header_safe(to_name),
            subject=rendered.subject,
            html=rendered.html,
            text=rendered.text,
            # the retrier leaves it alone while this first attempt runs
            next_attempt_at=now + self.lease,
        )
        # The insert that just succeeded is this first attempt's claim: an `_id` is inserted
        # once, and the retrier leaves the delivery alone until its lease is over.
        await self.attempt(await uow.commit(stored, ready), claimed=True)

    # ---- sending -----------------------------------------------------------------------------

    async def attempt(self, stored: Stored[Delivery], claimed: bool = False) -> None:
        """One attempt at sending, by whoever claims it (`claimed`: the caller holds it)."""
        assert stored.state is not None
        uow = self.unit_of_work(_cause_of(stored.state))
        if not claimed:
            try:
                stored = await self._claim(uow, stored)
            except VersionConflict:
                return  # another instance claimed this attempt first
        delivery = stored.state
        assert delivery is not None and delivery.html is not None and delivery.text is not None
        attempts = delivery.attempts + 1
        outgoing = Outgoing(
            delivery.to,
            delivery.to_name,
            delivery.subject,
            delivery.html,
            delivery.text,
            delivery.message_id,
        )
        try:
            await self.mailer.send(build_message(outgoing, self.settings))
        except SendFailure as failure:
            later, events = delivery.after_failure(
                attempts, failure.error, failure.permanent, self.clock.now(), self.retry_rule
            )
            await uow.commit(stored, later, events, remember=False)
            self._count(delivery.template, "failed" if events else "retrying")
            log.warning(
                "email %s attempt %d failed: %s", delivery.cause_id, attempts, failure.error
            )
            return
        sent, event = delivery.sent(attempts, self.clock.now())
        await self._record_after_sending(lambda: uow.commit(stored, sent, [event], remember=False))
        self._count(delivery.template, "sent")

    async def _record_after_sending(self, record: Callable[[], Awaitable[object]]) -> None:
        """The email has left: record that however long the database takes to come back. Giving
        up here would let a later attempt email the person a second time."""
        delay = self.settings.smtp_retry_base_seconds
        while True:
            try:
                await record()
                return
            except Exception as exc:
                if not is_transient(exc):
                    raise
                log.warning("email sent, not recorded yet (will retry): %r", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.smtp_retry_max_backoff_seconds)

    async def retry_due(self) -> int:
        retried = 0
        for stored in await self.store.due(self.clock.now()):
            raise_if_cancelled()  # a shutdown lost in an SMTP connect ends the round here
            try:
                await self.attempt(stored)
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

    def _count(self, template: str, outcome: str) -> None:
        self.metrics.emails.labels(template, outcome).inc()

    # ---- leases ------------------------------------------------------------------------------

    @property
    def lease(self) -> timedelta:
        """How long a claimed attempt is left to its claimant: three SMTP timeouts."""
        return timedelta(seconds=self.settings.smtp_timeout_seconds * 3)

    async def _claim(self, uow: UnitOfWork, stored: Stored[Delivery]) -> Stored[Delivery]:
        """A retry's claim, across instances: the delivery as read, its next attempt moved a
        lease ahead in a compare-and-set write that only one of them makes (VersionConflict for
        the others). A claimant killed before recording its attempt leaves the delivery due
        again once the lease is over, a full lease after its claim."""
        assert stored.state is not None
        leased = stored.state.leased(self.clock.now() + self.lease)
        return await uow.commit(stored, leased, remember=False)


def _cause_of(delivery: Delivery) -> Cause:
    """EmailSent/EmailFailed are caused by the event the email is for."""
    return Cause(delivery.cause_id, delivery.account_id, delivery.correlation_id, delivery.cause_id)
