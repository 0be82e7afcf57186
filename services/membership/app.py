"""The membership service's wiring: topics, handlers and the Users page."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.topics import (
    INVITATIONS_EVENTS,
    MEMBERSHIP_COMMANDS,
    MEMBERSHIP_EVENTS,
    NOTIFICATIONS_EVENTS,
)
from services.membership import api
from services.membership.handlers import MembershipHandlers
from services.membership.store import MembershipStore
from services.runtime.clock import Clock
from services.runtime.dispatch import Dispatch
from services.runtime.service import Runtime, create_runtime
from services.runtime.settings import ServiceSettings


@dataclass
class MembershipService:
    runtime: Runtime
    handlers: MembershipHandlers
    store: MembershipStore
    dispatch: Dispatch


def wire(runtime: Runtime) -> MembershipService:
    store = MembershipStore(runtime)
    handlers = MembershipHandlers(store, runtime.clock)
    dispatch = handlers.register_all(runtime.dispatch(MEMBERSHIP_EVENTS))
    runtime.consume(
        MEMBERSHIP_COMMANDS,
        dispatch,
        rejections=runtime.rejections(MEMBERSHIP_EVENTS),
        description="Register Pro accounts, disconnect members, change their roles.",
    )
    runtime.consume(
        INVITATIONS_EVENTS,
        dispatch,
        description="Pending rows for invitations; acceptance makes an active member.",
    )
    runtime.consume(
        NOTIFICATIONS_EVENTS,
        dispatch,
        description="Whether each invitation email was sent, is retrying or failed (Users page).",
    )
    runtime.publishes(
        MEMBERSHIP_EVENTS,
        "Accounts and members: registered, joined, roles changed, disconnected; CommandRejected.",
    )
    runtime.routers.append(api.router(store))
    return MembershipService(runtime, handlers, store, dispatch)


def build(settings: ServiceSettings, clock: Clock | None = None) -> MembershipService:
    return wire(create_runtime("membership", settings, clock))
