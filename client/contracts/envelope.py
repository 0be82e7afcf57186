"""CloudEvents 1.0 structured-mode envelope shared by every message."""

from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from contracts.common import ID_PATTERN, Timestamp, utc_now
from contracts.descriptions import describe, describe_envelope

CONTENT_TYPE = "application/cloudevents+json"
DataT = TypeVar("DataT", bound=BaseModel)

# Namespace for ids derived from a cause: re-publishing after a crash gives the same id.
_EVENT_ID_NAMESPACE = uuid.UUID("6d1f7a52-2b1e-4f0c-9a43-0c5b8e1d2f10")

MessageId = Annotated[str, StringConstraints(min_length=1, max_length=128)]


class MessageData(BaseModel):
    """Base of every `data` payload: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True, json_schema_extra=describe)


class CloudEvent(BaseModel, Generic[DataT]):
    """The envelope. Unknown envelope attributes are tolerated and kept."""

    model_config = ConfigDict(extra="allow", json_schema_extra=describe_envelope)

    specversion: Literal["1.0"] = "1.0"
    id: MessageId
    source: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    type: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    time: Timestamp = Field(default_factory=utc_now)
    datacontenttype: Literal["application/json"] = "application/json"
    accountid: Annotated[str, StringConstraints(pattern=ID_PATTERN)]
    correlationid: MessageId | None = None
    causationid: MessageId | None = None
    actorid: Annotated[str, StringConstraints(pattern=ID_PATTERN)] | None = None
    data: DataT

    def to_json(self) -> str:
        """Absent envelope attributes are left out; `data` keeps its nulls (e.g. the owner's
        `invitation_id: null`), as the contract shows them."""
        document = self.model_dump(mode="json")
        compact = {k: v for k, v in document.items() if v is not None or k == "data"}
        return json.dumps(compact, separators=(",", ":"), ensure_ascii=False)

    def to_json_bytes(self) -> bytes:
        return self.to_json().encode()

    @property
    def key(self) -> bytes:
        return self.accountid.encode()


class RawEnvelope(CloudEvent[Any]):
    """An envelope whose `data` is not validated yet (first step of parsing): whatever `data`
    holds, an identifiable command can still be answered with a CommandRejected."""

    data: Any = Field(default_factory=dict)


def derived_id(cause_id: str, *parts: str) -> str:
    """A deterministic message id: the same cause and parts always give the same id."""
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, "|".join((cause_id, *parts))))


def new_id() -> str:
    return str(uuid.uuid4())
