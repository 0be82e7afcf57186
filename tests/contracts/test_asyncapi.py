"""The committed AsyncAPI documents: fresh, one message per type with the whole envelope, an
example that the contract accepts, every field described, the key binding, the header, the
dead-letter channels, servers from docs/asyncapi-servers.json. (make test also validates and
renders them with the AsyncAPI CLI: scripts/docs.sh.)"""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from contracts.schemas_tool import load_committed
from contracts.topics import ACCESS, CATALOGUE, dlq_topic
from services.asyncapi import DOCS, SERVERS, document, dump

SERVICES = ("invitations", "membership", "notifications", "access_control")


def _spec(service: str) -> dict[str, Any]:
    return dict(json.loads((DOCS / f"{service}.json").read_text()))


@pytest.mark.parametrize("service", SERVICES)
def test_asyncapi_documents_are_fresh(service: str) -> None:
    committed = (DOCS / f"{service}.json").read_text()
    assert committed == dump(document(service)), (
        f"docs/asyncapi/{service}.json is stale: run python -m services.asyncapi write"
    )


@pytest.mark.parametrize("service", SERVICES)
def test_one_message_per_type_on_every_channel_of_the_service(service: str) -> None:
    spec = _spec(service)
    access = ACCESS[service]
    topics = {c["address"]: c for c in spec["channels"].values()}
    expected = set(access.produces) | set(access.consumes)
    expected |= {dlq_topic(t) for t in access.consumes}
    assert set(topics) == expected
    for topic in set(access.produces) | set(access.consumes):
        assert set(topics[topic]["messages"]) == {m.__name__ for m in CATALOGUE[topic]}
    for topic in access.consumes:
        assert set(topics[dlq_topic(topic)]["messages"]) == {"DeadLetter"}
    sends = {
        spec["channels"][op["channel"]["$ref"].rsplit("/", 1)[-1]]["address"]
        for op in spec["operations"].values()
        if op["action"] == "send"
    }
    assert sends == set(access.produces) | {dlq_topic(t) for t in access.consumes}


@pytest.mark.parametrize("service", SERVICES)
def test_each_message_is_the_whole_envelope_with_key_header_and_a_valid_example(
    service: str,
) -> None:
    spec = _spec(service)
    contract = load_committed()
    for name, message in spec["components"]["messages"].items():
        assert message["name"] == message["title"] == name
        assert message["bindings"]["kafka"]["key"] == {"$ref": "#/components/schemas/AccountKey"}
        if name == "DeadLetter":
            continue
        assert message["contentType"] == "application/cloudevents+json"
        assert message["headers"] == {"$ref": "#/components/schemas/KafkaHeaders"}
        payload = spec["components"]["schemas"][name]
        assert {"id", "type", "accountid", "data"} <= set(payload["required"])
        (example,) = message["examples"]
        validator = Draft202012Validator(contract[name], format_checker=FormatChecker())
        assert validator.is_valid(example["payload"]), name
        assert example["headers"] == {"content-type": "application/cloudevents+json"}


@pytest.mark.parametrize("service", SERVICES)
def test_every_field_is_described(service: str) -> None:
    spec = _spec(service)
    undescribed = [
        f"{schema_name}.{field}"
        for schema_name, schema in spec["components"]["schemas"].items()
        for field, prop in schema.get("properties", {}).items()
        if not prop.get("description")
    ]
    assert undescribed == []


def test_servers_come_from_the_committed_configuration() -> None:
    configured = json.loads(SERVERS.read_text())
    for service in SERVICES:
        servers = _spec(service)["servers"]
        assert {n: s["host"] for n, s in servers.items()} == {
            n: s["host"] for n, s in configured.items()
        }
