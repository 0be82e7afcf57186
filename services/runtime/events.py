"""Events caused by a message: same account and correlation, a deterministic id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.envelope import CloudEvent, RawEnvelope, derived_id
from contracts.topics import COMMAND_TYPES
from services.runtime.rules import Emit
from services.runtime.tracing import trace_extension


@dataclass(frozen=True)
class Cause:
    """What events are caused by (their ids derive from it)."""

    id: str
    account_id: str
    correlation_id: str
    causation_id: str | None
    is_command: bool = False  # a command's outcome is remembered, to answer a redelivery

    @classmethod
    def of(cls, envelope: RawEnvelope) -> Cause:
        return cls(
            envelope.id,
            envelope.accountid,
            envelope.correlationid or envelope.id,
            envelope.id,
            envelope.type in COMMAND_TYPES,
        )


def caused_by(cause: Cause, source: str, emit: Emit) -> CloudEvent[Any]:
    """The event `cause` leads to. Its id is derived from `emit.id_from` (default: the cause's
    id), the type and `emit.id_parts`, so publishing it again after a crash or a redelivery
    carries the same id; it carries the current trace context (the next service continues it)."""
    event_type = type(emit.data).__name__
    return CloudEvent[Any](
        id=derived_id(emit.id_from or cause.id, event_type, *emit.id_parts),
        source=source,
        type=event_type,
        accountid=cause.account_id,
        correlationid=cause.correlation_id,
        causationid=cause.causation_id,
        data=emit.data,
        **trace_extension(),
    )
