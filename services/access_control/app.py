"""The access_control service's wiring."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.topics import ACCESS_CONTROL_COMMANDS, ACCESS_CONTROL_EVENTS, MEMBERSHIP_EVENTS
from services.access_control.api import VisibilityApi
from services.access_control.handlers import AccessHandlers
from services.access_control.settings import AccessControlSettings
from services.access_control.store import AccessStore
from services.runtime.service import Runtime, create_runtime


@dataclass
class AccessControlService:
    runtime: Runtime
    handlers: AccessHandlers
    store: AccessStore


def build(settings: AccessControlSettings) -> AccessControlService:
    runtime = create_runtime("access_control", settings)
    store = AccessStore(runtime.db)
    handlers = AccessHandlers(
        store, runtime.outbox, runtime.source, settings.projection_grace_seconds
    )
    runtime.outbox_collections.extend([store.members, store.clients])
    runtime.consume(
        ACCESS_CONTROL_COMMANDS,
        handlers.on_command,
        rejections=runtime.rejections(ACCESS_CONTROL_EVENTS),
        description="Clients and security tags of clients and members.",
    )
    runtime.consume(
        MEMBERSHIP_EVENTS,
        handlers.on_membership_event,
        description="Members' status and roles, which decide what they see.",
    )
    runtime.publishes(
        ACCESS_CONTROL_EVENTS,
        "ClientVisibilityChanged (granted/revoked client ids per member) and CommandRejected.",
    )
    runtime.startup.append(store.create_indexes)
    runtime.routes.extend(VisibilityApi(store).routes())
    return AccessControlService(runtime, handlers, store)
