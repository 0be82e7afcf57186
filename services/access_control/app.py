"""The access_control service's wiring."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.topics import ACCESS_CONTROL_COMMANDS, ACCESS_CONTROL_EVENTS, MEMBERSHIP_EVENTS
from services.access_control import api
from services.access_control.handlers import AccessHandlers
from services.access_control.history import HISTORY_TOPIC
from services.access_control.settings import AccessControlSettings
from services.access_control.store import AccessStore
from services.runtime.clock import Clock
from services.runtime.dispatch import Dispatch
from services.runtime.service import Runtime, create_runtime


@dataclass
class AccessControlService:
    runtime: Runtime
    handlers: AccessHandlers
    store: AccessStore
    dispatch: Dispatch


def wire(runtime: Runtime, settings: AccessControlSettings) -> AccessControlService:
    store = AccessStore(runtime)
    runtime.outbox.local[HISTORY_TOPIC] = store.history.write
    runtime.startup.append(store.history.upgrade)  # after the indexes: see History.upgrade
    handlers = AccessHandlers(store, runtime.clock, settings.projection_grace_seconds)
    # kept for owned accounts only
    runtime.on_reassignment.extend(
        [handlers.members.forget_all, store.kept_members.forget_all, store.kept_clients.forget_all]
    )
    # Commands and membership events of one account arrive on two topics, and their diffs are
    # computed from each other's facts: they must take turns per account. In this process the
    # dispatch makes them; across instances, one consumer reads both topics co-partitioned, so
    # that one instance at a time owns all of an account's records.
    dispatch = handlers.register_all(
        runtime.dispatch(ACCESS_CONTROL_EVENTS, one_account_at_a_time=True)
    )
    commands = runtime.pipeline(
        ACCESS_CONTROL_COMMANDS,
        dispatch,
        rejections=runtime.rejections(ACCESS_CONTROL_EVENTS),
        description="Clients and security tags of clients and members.",
    )
    membership = runtime.pipeline(
        MEMBERSHIP_EVENTS,
        dispatch,
        description="Members' status and roles, which decide what they see.",
    )
    runtime.subscribe([commands, membership])
    runtime.publishes(
        ACCESS_CONTROL_EVENTS,
        "ClientVisibilityChanged (granted/revoked client ids per member) and CommandRejected.",
    )
    runtime.routers.append(api.router(store))
    return AccessControlService(runtime, handlers, store, dispatch)


def build(settings: AccessControlSettings, clock: Clock | None = None) -> AccessControlService:
    return wire(create_runtime("access_control", settings, clock), settings)
