"""The vocabulary pure domain rules answer in: no I/O here, so every `decide_*` stays testable
without servers.

- `Refusal`: the rule says no; the command gets exactly one CommandRejected with this reason.
- `Emit`: an event the decision causes (its envelope is made by the unit of work).
- `REMOVED`: the decision deletes the aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from contracts.common import RejectionReason
from contracts.envelope import MessageData


class Refusal(Exception):
    def __init__(self, reason: RejectionReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Emit:
    """An event with more than the defaults: another topic than the service's events topic,
    or an id derived from something else than the cause (`id_from`) or with `id_parts`."""

    data: MessageData
    topic: str | None = None
    id_parts: tuple[str, ...] = ()
    id_from: str | None = None


Event = MessageData | Emit


class Removed(Enum):
    REMOVED = "removed"


REMOVED = Removed.REMOVED
