"""The JSON Schemas are exactly as strict as the services' parser on the sample corpus: every
sample labelled valid passes both, every sample labelled invalid fails both."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from contracts import samples
from contracts.examples import DATA
from contracts.schemas_tool import load_committed
from contracts.topics import all_message_types
from services.runtime.inbound import Parsed, parse

SCHEMAS = load_committed()
TYPES = all_message_types()


def _cases() -> list[tuple[str, str, dict[str, Any]]]:
    cases = []
    for name in sorted(TYPES):
        corpus = json.loads((samples.SAMPLES_DIR / f"{name}.json").read_text())
        cases += [(name, label, s) for label in ("valid", "invalid") for s in corpus[label]]
    return cases


CASES = _cases()


def test_the_committed_corpus_is_the_generated_one() -> None:
    assert samples.main(["check"]) == 0, "run `make schemas`"


def test_every_message_has_an_example_and_samples_of_both_kinds() -> None:
    assert set(DATA) == set(TYPES)
    for name in TYPES:
        labels = {label for n, label, _ in CASES if n == name}
        assert labels == {"valid", "invalid"}, name
    assert len(CASES) > 600


@pytest.mark.parametrize(
    ("name", "label", "sample"), CASES, ids=[f"{n}-{label}-{s['why']}" for n, label, s in CASES]
)
def test_schema_and_parser_agree(name: str, label: str, sample: dict[str, Any]) -> None:
    message = sample["message"]
    validator = Draft202012Validator(SCHEMAS[name], format_checker=FormatChecker())
    schema_says = validator.is_valid(message)
    parser_says = isinstance(parse(json.dumps(message).encode(), {name: TYPES[name]}), Parsed)
    assert (schema_says, parser_says) == (label == "valid", label == "valid"), sample["why"]


def test_the_checker_catches_a_looser_schema() -> None:
    """Guard against a vacuous pass: without the role set, ["owner"] validates."""
    loose = json.loads(json.dumps(SCHEMAS["InviteTeamMember"]))
    roles = loose["$defs"]["InviteTeamMemberData"]["properties"]["roles"]
    roles["items"] = {"type": "string"}
    invite = next(s for n, _, s in CASES if n == "InviteTeamMember" and "owner role" in s["why"])
    assert Draft202012Validator(loose).is_valid(invite["message"])
    assert not Draft202012Validator(SCHEMAS["InviteTeamMember"]).is_valid(invite["message"])
