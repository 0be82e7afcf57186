"""Events caused by a message: same account and correlation, a deterministic id."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from contracts.envelope import CloudEvent, RawEnvelope, derived_id
from services.runtime.tracing import trace_extension


def caused_by(
    cause: RawEnvelope,
    source: str,
    event_type: str,
    data: BaseModel,
    *id_parts: str,
    id_from: str | None = None,
) -> CloudEvent[Any]:
    """The event `cause` leads to. Its id is derived from `id_from` (default: the cause's id),
    the type and `id_parts`, so publishing it again after a crash or a redelivery carries the
    same id."""
    return CloudEvent[Any](
        id=derived_id(id_from or cause.id, event_type, *id_parts),
        source=source,
        type=event_type,
        accountid=cause.accountid,
        correlationid=cause.correlationid or cause.id,
        causationid=cause.id,
        data=data,
        **trace_extension(),
    )
