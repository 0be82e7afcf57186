"""One AsyncAPI 3.0 document per service: its channels and operations come from its FastStream
app (what it really subscribes to and publishes), its messages from the contract: one message
per type with the full envelope as payload, the Kafka key binding, the `content-type` header,
an example, every field described; the dead-letter channels it writes; the servers of
`docs/asyncapi-servers.json` (never the environment of whoever regenerates them).

    python -m services.asyncapi write    # docs/asyncapi/<service>.json
    python -m services.asyncapi check    # exit 1 when a committed document is stale
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contracts.common import ID_PATTERN
from contracts.envelope import CONTENT_TYPE
from contracts.examples import envelope
from contracts.generated import sync
from contracts.schemas_tool import generate
from contracts.topics import ACCESS, CATALOGUE, dlq_topic

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "asyncapi"
SERVERS = ROOT / "docs" / "asyncapi-servers.json"
_KAFKA_BINDING = "0.5.0"
Spec = dict[str, Any]


def builders() -> dict[str, Callable[[], Any]]:
    from services.access_control.app import build as access_control
    from services.access_control.settings import AccessControlSettings
    from services.invitations.app import build as invitations
    from services.invitations.settings import InvitationsSettings
    from services.membership.app import build as membership
    from services.membership.settings import MembershipSettings
    from services.notifications.app import build as notifications
    from services.notifications.settings import NotificationsSettings

    # Building an app reads no environment that shows in the document: servers come from
    # docs/asyncapi-servers.json, messages from the contract.
    fixed: dict[str, Any] = {
        "kafka_bootstrap_servers": "127.0.0.1:9092",
        "kafka_security_protocol": "PLAINTEXT",
        "mongodb_uri": "mongodb://unused/",
    }
    return {
        "invitations": lambda: invitations(InvitationsSettings(**fixed)).runtime,
        "membership": lambda: membership(MembershipSettings(**fixed)).runtime,
        "notifications": lambda: notifications(NotificationsSettings(**fixed)).runtime,
        "access_control": lambda: access_control(AccessControlSettings(**fixed)).runtime,
    }


def _servers() -> Spec:
    configured: dict[str, Spec] = json.loads(SERVERS.read_text())
    servers = {}
    for name, server in configured.items():
        entry = {k: v for k, v in server.items() if k != "security"}
        if server.get("security") == "scram":
            entry["security"] = [{"$ref": "#/components/securitySchemes/scram"}]
        servers[name] = entry
    return servers


def _hoist(schemas: Spec, name: str, schema: Spec) -> None:
    """A message's envelope schema and its $defs under components/schemas."""
    text = json.dumps(schema).replace('"#/$defs/', '"#/components/schemas/')
    body = json.loads(text)
    for def_name, definition in body.pop("$defs", {}).items():
        schemas[def_name] = definition
    schemas[name] = body


def _message(name: str, model: type, topic: str) -> Spec:
    doc = (model.__doc__ or "").strip().replace("\n    ", " ")
    return {
        "name": name,
        "title": name,
        "summary": doc.split("\n")[0],
        "contentType": CONTENT_TYPE,
        "headers": {"$ref": "#/components/schemas/KafkaHeaders"},
        "payload": {"$ref": f"#/components/schemas/{name}"},
        "bindings": {"kafka": {"key": {"$ref": "#/components/schemas/AccountKey"}}},
        "examples": [
            {
                "name": f"{name}Example",
                "summary": f"A {name} on {topic}",
                "headers": {"content-type": CONTENT_TYPE},
                "payload": envelope(name),
            }
        ],
    }


_DEAD_LETTER: Spec = {
    "name": "DeadLetter",
    "title": "DeadLetter",
    "summary": "A record the service could not read, its bytes untouched, with why and where from.",
    "contentType": "application/octet-stream",
    "headers": {
        "type": "object",
        "properties": {
            "dlq-error": {"type": "string", "description": "Why it was not handled."},
            "dlq-source-topic": {"type": "string", "description": "The topic it came from."},
            "dlq-source-partition": {"type": "string", "description": "Its partition there."},
            "dlq-source-offset": {"type": "string", "description": "Its offset there."},
            "dlq-service": {"type": "string", "description": "The service that gave up on it."},
            "dlq-time": {"type": "string", "description": "When (RFC 3339)."},
        },
    },
    "payload": {"description": "The original record's value, byte for byte."},
    "bindings": {"kafka": {"key": {"$ref": "#/components/schemas/AccountKey"}}},
}


def _channel_key(topic: str) -> str:
    return topic.replace(".", "_").replace("-", "_")


def document(service: str) -> Spec:
    runtime = builders()[service]()
    generated: Spec = runtime.faststream_app().schema.to_specification().to_jsonable()
    contract = generate()
    access = ACCESS[service]
    schemas: Spec = {
        "AccountKey": {
            "type": "string",
            "pattern": ID_PATTERN,
            "description": "The record key: the message's `accountid` (one account's messages "
            "stay in order on one partition).",
        },
        "KafkaHeaders": {
            "type": "object",
            "required": ["content-type"],
            "properties": {
                "content-type": {
                    "const": CONTENT_TYPE,
                    "description": "CloudEvents structured mode.",
                }
            },
        },
    }
    messages: Spec = {"DeadLetter": _DEAD_LETTER}
    channels: Spec = {}
    operations: Spec = {}
    described = {
        c["bindings"]["kafka"]["topic"]: c.get("description", "")
        for c in generated.get("channels", {}).values()
    }
    actions = {
        op["channel"]["$ref"].rsplit("/", 1)[-1]: op["action"]
        for op in generated.get("operations", {}).values()
    }
    topic_actions = {
        generated["channels"][key]["bindings"]["kafka"]["topic"]: action
        for key, action in actions.items()
    }
    for topic in sorted(topic_actions):
        action = topic_actions[topic]
        key = _channel_key(topic)
        names = [model.__name__ for model in CATALOGUE[topic]]
        for model in CATALOGUE[topic]:
            _hoist(schemas, model.__name__, contract[model.__name__])
            messages[model.__name__] = _message(model.__name__, model, topic)
        channels[key] = {
            "address": topic,
            "title": topic,
            "description": runtime.descriptions.get(topic) or described.get(topic, ""),
            "messages": {n: {"$ref": f"#/components/messages/{n}"} for n in names},
            "bindings": {"kafka": {"topic": topic, "bindingVersion": _KAFKA_BINDING}},
        }
        operations[f"{action}_{key}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": ("Publishes" if action == "send" else "Consumes") + f" {topic}",
            "messages": [{"$ref": f"#/channels/{key}/messages/{n}"} for n in names],
        }
    if access.writes_dlq:
        for topic in sorted(access.consumes):
            dead = dlq_topic(topic)
            key = _channel_key(dead)
            channels[key] = {
                "address": dead,
                "title": dead,
                "description": f"What {service} could not read from {topic} "
                "(inspect and replay: python -m services.dlq).",
                "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
                "bindings": {"kafka": {"topic": dead, "bindingVersion": _KAFKA_BINDING}},
            }
            operations[f"send_{key}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{key}"},
                "summary": f"Dead-letters what it could not read from {topic}",
                "messages": [{"$ref": f"#/channels/{key}/messages/DeadLetter"}],
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"{service} service",
            "version": "2.0.0",
            "description": generated["info"].get("description", "")
            + ". Every message is a CloudEvents 1.0 envelope (structured mode); see "
            "docs/contract.md.",
        },
        "defaultContentType": CONTENT_TYPE,
        "servers": _servers(),
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": schemas,
            "securitySchemes": {
                "scram": {
                    "type": "scramSha512",
                    "description": "One principal per service and one for the gateway; the "
                    "broker's ACLs allow each only its topics (contracts/topics.py ACCESS).",
                }
            },
        },
    }


def dump(spec: Spec) -> str:
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    files = {DOCS / f"{service}.json": dump(document(service)) for service in builders()}
    return sync(files, argv[0] if argv else "check")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
