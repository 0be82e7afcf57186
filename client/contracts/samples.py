"""The sample corpus: for every message, messages that must be accepted and messages that must
be refused, each refused one with why. A gateway team can run its own message builders against
it; the test suite checks that the JSON Schema and the service's parser give every sample the
verdict it is labelled with.

    python -m contracts.samples write    # contracts/samples/<Type>.json
    python -m contracts.samples check    # exit 1 when a committed file is stale

The refused samples are derived from each schema (every required field left out, every limit
passed by one, every pattern and format broken), so a new field gets its samples for free.
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from contracts.common import ID_PATTERN, NAME_PATTERN, TAG_PATTERN, UUID_PATTERN
from contracts.examples import envelope
from contracts.generated import sync
from contracts.schemas_tool import Schema, generate

SAMPLES_DIR = Path(__file__).parent / "samples"
Sample = dict[str, Any]


def _data_schema(schema: Schema) -> Schema:
    ref = schema["properties"]["data"]["$ref"].rsplit("/", 1)[-1]
    data: Schema = schema["$defs"][ref]
    return data


def _string_branch(prop: Schema) -> Schema:
    """A nullable field's non-null branch."""
    for option in prop.get("anyOf", []):
        if option.get("type") != "null":
            return dict(option)
    return prop


def _bad_values(prop: Schema) -> Iterator[tuple[str, Any]]:
    """Values the field must refuse, each with why."""
    prop = _string_branch(prop)
    kind = prop.get("type")
    if kind == "string":
        yield "a number instead of a string", 42
        pattern = prop.get("pattern")
        if prop.get("format") == "email":
            yield "not an email address", "not-an-email"
            yield "no domain", "ann@"
            yield "whitespace inside", "ann lee@example.com"
        elif pattern == ID_PATTERN:
            yield "characters outside A-Za-z0-9_.:-", "bad id!"
            yield "longer than 64 characters", "x" * 65
            yield "empty", ""
        elif pattern == UUID_PATTERN:
            yield "not a UUID", "not-a-uuid"
        elif pattern == TAG_PATTERN:
            yield "only whitespace", "   "
            yield "longer than 64 characters once trimmed", "x" * 65
        elif pattern == NAME_PATTERN:
            yield "a line break inside", "Ann\nLee"
            yield "longer than 120 characters once trimmed", "x" * 121
        if "maxLength" in prop:
            yield f"longer than {prop['maxLength']} characters", "x" * (prop["maxLength"] + 1)
        if prop.get("minLength", 0) >= 1:
            yield "empty", ""
    elif kind == "array":
        items = prop.get("items", {})
        yield "a string instead of a list", "practitioner"
        if "maxItems" in prop:
            many = [f"item-{i}" for i in range(prop["maxItems"] + 1)]
            if "enum" in items:
                many = [items["enum"][i % len(items["enum"])] for i in range(prop["maxItems"] + 1)]
            yield f"more than {prop['maxItems']} items", many
        if prop.get("minItems", 0) >= 1:
            yield "no item", []
        if "enum" in items:
            yield "a value outside the list", ["superuser"]
            if "owner" not in items["enum"]:
                yield "the owner role, which can't be given", ["owner"]
        if prop.get("uniqueItems"):
            yield "the same value twice", [items["enum"][0], items["enum"][0]]
        if items.get("pattern") == TAG_PATTERN:
            for why, value in _bad_values(items):
                if not isinstance(value, int):
                    yield f"a tag that is {why}", [value]
    elif kind == "integer":
        if "minimum" in prop:
            yield f"below {prop['minimum']}", prop["minimum"] - 1
        if "maximum" in prop:
            yield f"above {prop['maximum']}", prop["maximum"] + 1
        yield "a fraction", 1.5


def _good_values(prop: Schema) -> Iterator[tuple[str, Any]]:
    """Edge values the field must accept."""
    prop = _string_branch(prop)
    pattern = prop.get("pattern")
    if pattern == NAME_PATTERN:
        yield "surrounding whitespace (trimmed)", "  Ann Lee  "
        yield "exactly 120 characters", "x" * 120
    if prop.get("type") == "array" and prop.get("items", {}).get("pattern") == TAG_PATTERN:
        yield "surrounding whitespace (trimmed)", [" kids "]
        yield "exactly 64 characters", ["x" * 64]
        yield "no tag", []
    if prop.get("format") == "email":
        yield "upper case and surrounding whitespace (normalised)", "  Ann.Lee@Example.COM "


def corpus(name: str, schema: Schema) -> dict[str, list[Sample]]:
    example = envelope(name)
    data_schema = _data_schema(schema)
    valid: list[Sample] = [{"why": "the contract's example", "message": example}]
    invalid: list[Sample] = []

    def changed(why: str, field: str, value: Any, into: list[Sample]) -> None:
        message = copy.deepcopy(example)
        message["data"][field] = value
        into.append({"why": f"data.{field}: {why}", "message": message})

    required = set(data_schema.get("required", []))
    optional = [f for f in data_schema.get("properties", {}) if f not in required]
    if optional:
        message = copy.deepcopy(example)
        for field in optional:
            message["data"].pop(field, None)
        valid.append({"why": "only the required fields", "message": message})
    for field, prop in data_schema.get("properties", {}).items():
        if field in required:
            message = copy.deepcopy(example)
            del message["data"][field]
            invalid.append({"why": f"data.{field}: missing", "message": message})
        for why, value in _bad_values(prop):
            changed(why, field, value, invalid)
        for why, value in _good_values(prop):
            changed(why, field, value, valid)
    for why, edit in _envelope_breakages():
        message = copy.deepcopy(example)
        edit(message)
        invalid.append({"why": why, "message": message})
    return {"valid": valid, "invalid": invalid}


def _envelope_breakages() -> list[tuple[str, Any]]:
    def drop(key: str) -> Any:
        return lambda m: m.pop(key)

    def put(key: str, value: Any) -> Any:
        return lambda m: m.__setitem__(key, value)

    return [
        ("type: missing", drop("type")),
        ("id: missing", drop("id")),
        ("accountid: missing", drop("accountid")),
        ("source: missing", drop("source")),
        ("data: missing", drop("data")),
        ("accountid: characters outside A-Za-z0-9_.:-", put("accountid", "acct 42")),
        ("specversion: not 1.0", put("specversion", "0.3")),
        ("time: no time zone", put("time", "2026-11-28T09:30:00")),
        ("id: longer than 128 characters", put("id", "x" * 129)),
        ("data: a list instead of an object", put("data", [])),
    ]


def generate_all() -> dict[str, dict[str, list[Sample]]]:
    return {name: corpus(name, schema) for name, schema in generate().items()}


def dump(samples: dict[str, list[Sample]]) -> str:
    return json.dumps(samples, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    files = {SAMPLES_DIR / f"{name}.json": dump(s) for name, s in generate_all().items()}
    return sync(files, argv[0] if argv else "check")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
