"""The invitations service's wiring: topics, handlers, background sweepers."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta

from contracts.topics import (
    INVITATIONS_COMMANDS,
    INVITATIONS_EVENTS,
    INVITATIONS_LINKS,
    MEMBERSHIP_EVENTS,
)
from services.invitations import api
from services.invitations.handlers import InvitationHandlers
from services.invitations.links import AcceptLinks
from services.invitations.lookup import RateLimit
from services.invitations.settings import InvitationsSettings
from services.invitations.store import InvitationStore
from services.runtime.clock import Clock
from services.runtime.collection import Document
from services.runtime.dispatch import Dispatch
from services.runtime.service import Runtime, create_runtime

log = logging.getLogger(__name__)


@dataclass
class InvitationsService:
    runtime: Runtime
    handlers: InvitationHandlers
    store: InvitationStore
    dispatch: Dispatch


def wire(runtime: Runtime, settings: InvitationsSettings) -> InvitationsService:
    store = InvitationStore(runtime)
    links = AcceptLinks(runtime.clock)
    dispatch = runtime.dispatch(INVITATIONS_EVENTS)
    handlers = InvitationHandlers(
        store,
        dispatch.unit_of_work,
        links,
        settings.policy(),
        runtime.clock,
        settings.projection_grace_seconds,
        settings.reminder_rule(),
    )
    handlers.register_all(dispatch)
    runtime.on_reassignment.append(handlers.recent.forget_all)  # its bounds hold for owned accounts
    runtime.outbox.render = links.render
    if settings.fault_crash_before_publish:
        runtime.outbox.before_publish = _crash_before(settings.fault_crash_before_publish)
    runtime.consume(
        INVITATIONS_COMMANDS,
        dispatch,
        rejections=runtime.rejections(INVITATIONS_EVENTS),
        description="Invite, resend, revoke and accept team invitations.",
    )
    runtime.consume(
        MEMBERSHIP_EVENTS,
        dispatch,
        description="Projection of accounts and members, for authorisation and already_member.",
    )
    runtime.publishes(
        INVITATIONS_EVENTS,
        "Invitation lifecycle events and CommandRejected (public: no secrets).",
    )
    runtime.publishes(
        INVITATIONS_LINKS,
        "InvitationLinkIssued: raw accept tokens, readable by the notifications principal only.",
    )
    runtime.background.append(lambda: handlers.run_expiry_sweeper(settings.expiry_sweep_seconds))
    lookups = RateLimit(settings.lookups_per_invitation_per_minute, timedelta(minutes=1))
    runtime.routers.append(
        api.router(store, runtime.clock, settings.live_links_per_invitation, lookups)
    )
    return InvitationsService(runtime, handlers, store, dispatch)


def build(settings: InvitationsSettings, clock: Clock | None = None) -> InvitationsService:
    return wire(create_runtime("invitations", settings, clock), settings)


def _crash_before(event_type: str) -> Callable[[Document], Awaitable[None]]:
    async def crash(doc: Document) -> None:
        if any(entry["type"] == event_type for entry in doc.get("outbox", [])):
            log.warning("fault injection: SIGKILL before publishing %s", event_type)
            os.kill(os.getpid(), signal.SIGKILL)

    return crash
