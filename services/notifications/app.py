"""The notifications service's wiring."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.topics import INVITATIONS_LINKS, MEMBERSHIP_EVENTS, NOTIFICATIONS_EVENTS
from services.notifications.handlers import NotificationHandlers
from services.notifications.mailer import Mailer, Sender
from services.notifications.settings import NotificationsSettings
from services.notifications.store import DeliveryStore
from services.runtime.clock import Clock
from services.runtime.dispatch import Dispatch
from services.runtime.service import Runtime, create_runtime


@dataclass
class NotificationsService:
    runtime: Runtime
    handlers: NotificationHandlers
    store: DeliveryStore
    dispatch: Dispatch


def wire(runtime: Runtime, settings: NotificationsSettings, mailer: Sender) -> NotificationsService:
    store = DeliveryStore(runtime)
    dispatch = runtime.dispatch(NOTIFICATIONS_EVENTS)
    handlers = NotificationHandlers(
        store, dispatch.unit_of_work, mailer, settings, runtime.clock, runtime.metrics
    )
    handlers.register_all(dispatch)
    runtime.consume(
        INVITATIONS_LINKS,
        dispatch,
        description="Invitation emails (a reminder when resent) on InvitationLinkIssued.",
    )
    runtime.consume(
        MEMBERSHIP_EVENTS,
        dispatch,
        description="Welcome emails on MemberJoined; account names from ProAccountRegistered.",
    )
    runtime.publishes(NOTIFICATIONS_EVENTS, "EmailSent and EmailFailed per cause event.")
    runtime.background.append(handlers.run_retrier)
    return NotificationsService(runtime, handlers, store, dispatch)


def build(settings: NotificationsSettings, clock: Clock | None = None) -> NotificationsService:
    return wire(create_runtime("notifications", settings, clock), settings, Mailer(settings))
