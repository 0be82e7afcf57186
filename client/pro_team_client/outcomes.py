"""A command's outcome as the client hands it back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contracts.envelope import MessageData, RawEnvelope
from contracts.messages import CommandRejected
from contracts.topics import all_message_types

MESSAGES = all_message_types()


@dataclass(frozen=True)
class Event:
    """A public event: its envelope, and its `data` parsed with the contract's model (None for
    a type this version of the contract does not know: newer producers may add types)."""

    topic: str
    envelope: RawEnvelope
    data: MessageData | None

    @property
    def type(self) -> str:
        return self.envelope.type

    @property
    def id(self) -> str:
        return self.envelope.id

    @classmethod
    def parse(cls, topic: str, value: bytes) -> Event | None:
        """None when the record is not a CloudEvents envelope at all."""
        try:
            envelope = RawEnvelope.model_validate_json(value)
        except ValueError:
            return None
        model = MESSAGES.get(envelope.type)
        try:
            data = None if model is None else model.model_validate(envelope.data)
        except ValueError:
            data = None
        return cls(topic, envelope, data if isinstance(data, MessageData) else None)


class CommandRejectedError(Exception):
    """The service refused the command (nothing changed): `reason` says why, as a code."""

    def __init__(self, rejection: CommandRejected, event: Event) -> None:
        super().__init__(
            f"{rejection.command_type} rejected: {rejection.reason}: {rejection.detail}"
        )
        self.reason = rejection.reason.value
        self.detail = rejection.detail
        self.event = event


class OutcomeTimeout(TimeoutError):
    """No outcome within the timeout: the command may still be applied later (retry it with
    the same command id: it is applied once, and answered again)."""


@dataclass(frozen=True)
class Outcome:
    """The one outcome of a command: the event it caused, or its CommandRejected."""

    command_id: str
    event: Event

    @property
    def type(self) -> str:
        return self.event.type

    @property
    def rejected(self) -> bool:
        return isinstance(self.event.data, CommandRejected)

    @property
    def reason(self) -> str | None:
        data = self.event.data
        return data.reason.value if isinstance(data, CommandRejected) else None

    @property
    def data(self) -> Any:
        return self.event.data

    def accepted(self) -> Event:
        """The event, or CommandRejectedError when the command was refused."""
        data = self.event.data
        if isinstance(data, CommandRejected):
            raise CommandRejectedError(data, self.event)
        return self.event
