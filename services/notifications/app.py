"""The notifications service's wiring."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.topics import INVITATIONS_LINKS, MEMBERSHIP_EVENTS, NOTIFICATIONS_EVENTS
from services.notifications.handlers import NotificationHandlers
from services.notifications.mailer import Mailer
from services.notifications.settings import NotificationsSettings
from services.notifications.store import DeliveryStore
from services.runtime.clock import Clock, SystemClock
from services.runtime.service import Runtime, create_runtime


@dataclass
class NotificationsService:
    runtime: Runtime
    handlers: NotificationHandlers
    store: DeliveryStore


def build(settings: NotificationsSettings, clock: Clock | None = None) -> NotificationsService:
    runtime = create_runtime("notifications", settings)
    store = DeliveryStore(runtime.db)
    handlers = NotificationHandlers(
        store, runtime.outbox, Mailer(settings), settings, clock or SystemClock(), runtime.source
    )
    runtime.outbox_collections.append(store.deliveries)
    runtime.consume(
        INVITATIONS_LINKS,
        handlers.on_link_issued,
        description="Invitation emails (a reminder when resent) on InvitationLinkIssued.",
    )
    runtime.consume(
        MEMBERSHIP_EVENTS,
        handlers.on_membership_event,
        description="Welcome emails on MemberJoined; account names from ProAccountRegistered.",
    )
    runtime.publishes(NOTIFICATIONS_EVENTS, "EmailSent and EmailFailed per cause event.")
    runtime.startup.append(store.create_indexes)
    runtime.background.append(handlers.run_retrier)
    return NotificationsService(runtime, handlers, store)
