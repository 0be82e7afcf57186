"""Turn a Kafka record's bytes into a validated envelope and `data`, or say exactly why not."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from contracts.envelope import RawEnvelope


@dataclass(frozen=True)
class Parsed:
    envelope: RawEnvelope
    data: BaseModel


@dataclass(frozen=True)
class Unparseable:
    """Not a CloudEvents envelope at all: only a dead-letter entry can describe it."""

    error: str


@dataclass(frozen=True)
class InvalidData:
    """A well-formed envelope whose type is unknown here or whose `data` fails validation."""

    envelope: RawEnvelope
    error: str
    unknown_type: bool = False


Outcome = Parsed | Unparseable | InvalidData


def describe(exc: ValidationError) -> str:
    """A validation error in one line: the first five problems, each with its field."""
    parts = []
    for err in exc.errors()[:5]:
        location = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{location}: {err['msg']}")
    return "; ".join(parts)


def parse(raw: bytes | None, models: dict[str, type[BaseModel]]) -> Outcome:
    if raw is None:
        return Unparseable("empty record (tombstone)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Unparseable(f"not UTF-8: {exc}")
    try:
        document: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        return Unparseable(f"not JSON: {exc}")
    if not isinstance(document, dict):
        return Unparseable(f"not a JSON object but {type(document).__name__}")
    try:
        envelope = RawEnvelope.model_validate(document)
    except ValidationError as exc:
        return Unparseable(f"invalid CloudEvents envelope: {describe(exc)}")
    model = models.get(envelope.type)
    if model is None:
        return InvalidData(envelope, f"unknown message type {envelope.type!r}", unknown_type=True)
    if "data" not in document:
        return InvalidData(envelope, f"invalid {envelope.type}: data: Field required")
    try:
        data = model.model_validate(envelope.data)
    except ValidationError as exc:
        return InvalidData(envelope, f"invalid {envelope.type}: {describe(exc)}")
    return Parsed(envelope, data)
