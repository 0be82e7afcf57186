"""One AsyncAPI 3.0 document per service, generated from its FastStream app and completed with
the contract's JSON Schemas (the handlers take raw records, so FastStream alone can't know the
payloads).

    python -m services.asyncapi write    # docs/asyncapi/<service>.json
    python -m services.asyncapi check    # exit 1 when a committed document is stale
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from contracts.schemas_tool import generate
from contracts.topics import CATALOGUE

DOCS = Path(__file__).resolve().parent.parent / "docs" / "asyncapi"
DOCUMENTED_BOOTSTRAP = "127.0.0.1:9092"


def _builders() -> dict[str, Callable[[], Any]]:
    from services.access_control.app import build as access_control
    from services.access_control.settings import AccessControlSettings
    from services.invitations.app import build as invitations
    from services.invitations.settings import InvitationsSettings
    from services.membership.app import build as membership
    from services.membership.settings import MembershipSettings
    from services.notifications.app import build as notifications
    from services.notifications.settings import NotificationsSettings

    # The documents describe the defaults, never the environment of whoever regenerates them.
    fixed: dict[str, Any] = {
        "kafka_bootstrap_servers": DOCUMENTED_BOOTSTRAP,
        "kafka_security_protocol": "PLAINTEXT",
        "mongodb_uri": "mongodb://unused/",
    }
    return {
        "invitations": lambda: invitations(InvitationsSettings(**fixed)).runtime,
        "membership": lambda: membership(MembershipSettings(**fixed)).runtime,
        "notifications": lambda: notifications(NotificationsSettings(**fixed)).runtime,
        "access_control": lambda: access_control(AccessControlSettings(**fixed)).runtime,
    }


def _hoist(schemas: dict[str, Any], name: str, schema: dict[str, Any]) -> str:
    """Put a message's schema and its $defs under components/schemas; returns its key."""
    key = f"{name}Message"
    text = json.dumps(schema).replace('"#/$defs/', '"#/components/schemas/')
    body = json.loads(text)
    for def_name, definition in body.pop("$defs", {}).items():
        schemas[def_name] = definition
    schemas[key] = body
    return key


def document(service: str) -> dict[str, Any]:
    runtime = _builders()[service]()
    spec: dict[str, Any] = runtime.faststream_app().schema.to_specification().to_jsonable()
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("EmptyPayload", None)
    contract = generate()
    for channel in spec.get("channels", {}).values():
        topic = channel["bindings"]["kafka"]["topic"]
        keys = [_hoist(schemas, m.__name__, contract[m.__name__]) for m in CATALOGUE[topic]]
        payload = {"oneOf": [{"$ref": f"#/components/schemas/{k}"} for k in keys]}
        for message_ref in channel.get("messages", {}).values():
            name = message_ref["$ref"].rsplit("/", 1)[-1]
            message = spec["components"]["messages"][name]
            message["payload"] = payload
            message["contentType"] = "application/cloudevents+json"
            message.pop("correlationId", None)
    return spec


def dump(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def main(argv: list[str]) -> int:
    action = argv[0] if argv else "check"
    stale = []
    for service in _builders():
        path = DOCS / f"{service}.json"
        text = dump(document(service))
        if action == "write":
            DOCS.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        elif not path.exists() or path.read_text() != text:
            stale.append(service)
    for service in stale:
        print(f"stale: docs/asyncapi/{service}.json (run: python -m services.asyncapi write)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
