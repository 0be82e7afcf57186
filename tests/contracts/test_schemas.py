"""The committed JSON Schemas are the contract: they must match the models, and changes must
stay backward compatible (extend only additively)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from contracts.schemas_tool import SCHEMA_DIR, breaking_changes, check, generate, load_committed
from contracts.topics import all_message_types


def test_committed_schemas_match_the_models() -> None:
    stale, _ = check(load_committed(), generate())
    assert stale == [], (
        f"stale schemas {stale}: run `make schemas` (python -m contracts.schemas_tool write)"
    )


def test_models_are_backward_compatible_with_the_committed_schemas() -> None:
    _, breaking = check(load_committed(), generate())
    assert breaking == []


def test_every_contract_message_has_a_schema() -> None:
    """Each message of the topic catalogue has a committed schema named and titled after it."""
    files = {path.stem: json.loads(path.read_text()) for path in SCHEMA_DIR.glob("*.json")}
    messages = all_message_types()
    missing = [name for name in messages if files.get(name, {}).get("title") != name]
    assert missing == []
    assert len(messages) == 35


def test_schema_title_is_the_message_type() -> None:
    for name, schema in load_committed().items():
        assert schema["title"] == name
        assert schema["properties"]["type"]["const"] == name


@pytest.fixture
def invite() -> dict:
    return copy.deepcopy(load_committed()["InviteTeamMember"])


def _data(schema: dict) -> dict:
    return schema["$defs"]["InviteTeamMemberData"]


def test_a_renamed_field_is_breaking(invite: dict) -> None:
    new = copy.deepcopy(invite)
    _data(new)["properties"]["e_mail"] = _data(new)["properties"].pop("email")
    _data(new)["required"] = ["e_mail", "roles"]
    problems = breaking_changes(invite, new)
    assert any("data.email: removed or renamed" in p for p in problems)


def test_a_removed_envelope_attribute_is_breaking(invite: dict) -> None:
    new = copy.deepcopy(invite)
    del new["properties"]["correlationid"]
    assert breaking_changes(invite, new) == ["InviteTeamMember.correlationid: removed or renamed"]


def test_a_retyped_field_is_breaking(invite: dict) -> None:
    new = copy.deepcopy(invite)
    _data(new)["properties"]["roles"] = {"type": "string"}
    assert any("data.roles: type changed" in p for p in breaking_changes(invite, new))


def test_an_optional_field_made_required_is_breaking(invite: dict) -> None:
    new = copy.deepcopy(invite)
    _data(new)["required"].append("message")
    assert breaking_changes(invite, new) == [
        "InviteTeamMember.data.message: optional field made required"
    ]


def test_a_new_optional_field_is_compatible(invite: dict) -> None:
    new = copy.deepcopy(invite)
    _data(new)["properties"]["pronouns"] = {"type": "string", "default": ""}
    assert breaking_changes(invite, new) == []


def test_a_new_required_field_is_breaking(invite: dict) -> None:
    new = copy.deepcopy(invite)
    _data(new)["properties"]["pronouns"] = {"type": "string"}
    _data(new)["required"].append("pronouns")
    assert breaking_changes(invite, new) == [
        "InviteTeamMember.data.pronouns: new field is required"
    ]


def test_the_writer_refuses_a_breaking_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import contracts.schemas_tool as tool

    committed = load_committed()
    broken = copy.deepcopy(committed)
    del broken["InviteTeamMember"]["properties"]["id"]  # pretend the model lost `id`
    monkeypatch.setattr(tool, "generate", lambda: broken)
    monkeypatch.setattr(tool, "SCHEMA_DIR", tmp_path)
    for name, schema in committed.items():
        (tmp_path / f"{name}.json").write_text(tool.dump(schema))
    assert tool.main(["write"]) == 1
    assert tool.load_committed(tmp_path) == committed
