"""docs/contract.md stays in step with the code: its generated sections are fresh, it names
every message and every rejection reason, its envelope example is a valid command, and it
points nowhere outside the repository."""

from __future__ import annotations

import json
import re

from jsonschema import Draft202012Validator, FormatChecker

from contracts.common import RejectionReason
from contracts.schemas_tool import load_committed
from contracts.topics import all_message_types
from services.contract_doc import CONTRACT, main
from services.runtime.inbound import Parsed, parse

TEXT = CONTRACT.read_text()


def test_the_generated_sections_and_openapi_documents_are_fresh() -> None:
    assert main(["check"]) == 0, "run `make schemas`"


def test_every_message_and_reason_is_documented() -> None:
    for name in all_message_types():
        assert re.search(rf"^#### {name} \(", TEXT, re.M), name
    for reason in RejectionReason:
        assert f"| `{reason.value}` |" in TEXT, reason


def test_the_envelope_example_is_a_valid_command() -> None:
    example = re.search(r"## 2\. The envelope.*?```json\n(.*?)```", TEXT, re.S)
    assert example is not None
    message = json.loads(example.group(1))
    schema = load_committed()[message["type"]]
    assert Draft202012Validator(schema, format_checker=FormatChecker()).is_valid(message)
    assert isinstance(parse(example.group(1).encode(), all_message_types()), Parsed)


def test_the_contract_stands_on_its_own() -> None:
    assert "../" not in TEXT and "shared/" not in TEXT
