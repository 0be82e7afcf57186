"""The membership service's wiring: topics, handlers and the Users page."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.topics import INVITATIONS_EVENTS, MEMBERSHIP_COMMANDS, MEMBERSHIP_EVENTS
from services.membership.api import UsersPage
from services.membership.handlers import MembershipHandlers
from services.membership.store import MembershipStore
from services.runtime.clock import Clock, SystemClock
from services.runtime.service import Runtime, create_runtime
from services.runtime.settings import ServiceSettings


@dataclass
class MembershipService:
    runtime: Runtime
    handlers: MembershipHandlers
    store: MembershipStore


def build(settings: ServiceSettings, clock: Clock | None = None) -> MembershipService:
    runtime = create_runtime("membership", settings)
    store = MembershipStore(runtime.db)
    handlers = MembershipHandlers(store, runtime.outbox, clock or SystemClock(), runtime.source)
    runtime.outbox_collections.extend([store.accounts, store.people])
    runtime.consume(
        MEMBERSHIP_COMMANDS,
        handlers.on_command,
        rejections=runtime.rejections(MEMBERSHIP_EVENTS),
        description="Register Pro accounts, disconnect members, change their roles.",
    )
    runtime.consume(
        INVITATIONS_EVENTS,
        handlers.on_invitation_event,
        description="Pending rows for invitations; acceptance makes an active member.",
    )
    runtime.publishes(
        MEMBERSHIP_EVENTS,
        "Accounts and members: registered, joined, roles changed, disconnected; CommandRejected.",
    )
    runtime.startup.append(store.create_indexes)
    runtime.routes.extend(UsersPage(store).routes())
    return MembershipService(runtime, handlers, store)
