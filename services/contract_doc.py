"""Keeps docs/contract.md in step with the code: its generated sections (topics, messages,
rejection reasons, HTTP endpoints) are written from contracts/ and the services' OpenAPI, and
docs/openapi/<service>.json are the services' OpenAPI documents.

    python -m services.contract_doc write    # rewrite the generated parts
    python -m services.contract_doc check    # exit 1 when they are stale
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from contracts.common import RejectionReason
from contracts.descriptions import REASONS
from contracts.examples import envelope
from contracts.generated import sync
from contracts.schemas_tool import generate
from contracts.topics import ACCESS, CATALOGUE, COMMAND_TOPICS, PARTITIONS, dlq_topic
from services.asyncapi import ROOT, builders

CONTRACT = ROOT / "docs" / "contract.md"
OPENAPI = ROOT / "docs" / "openapi"
HTTP_SERVICES = ("invitations", "membership", "access_control")
_BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (\w+) -->\n)(.*?)(<!-- END GENERATED -->)", re.S)


def openapi(service: str) -> dict[str, Any]:
    spec: dict[str, Any] = builders()[service]().http_app().http.openapi()
    return spec


def _principals(topic: str, role: str) -> list[str]:
    return sorted(
        name
        for name, access in ACCESS.items()
        if topic in (access.produces if role == "produces" else access.consumes)
    )


def topics_section() -> str:
    lines = [
        "| topic | messages | written by | read by |",
        "|---|---|---|---|",
    ]
    for topic, models in CATALOGUE.items():
        names = ", ".join(f"`{m.__name__}`" for m in models)
        writers = ", ".join(f"`{p}`" for p in _principals(topic, "produces"))
        readers = ", ".join(f"`{p}`" for p in _principals(topic, "consumes"))
        lines.append(f"| `{topic}` | {names} | {writers} | {readers} |")
    dlqs = sorted({dlq_topic(t) for a in ACCESS.values() if a.writes_dlq for t in a.consumes})
    lines += [
        "",
        f"Every topic has {PARTITIONS} partitions and the record key is the envelope's "
        "`accountid`, so one account's messages stay in order. The broker's ACLs give each "
        "principal (SASL/SCRAM user) exactly the rights in the table; a service also writes "
        "the dead-letter topic of each topic it reads: " + ", ".join(f"`{t}`" for t in dlqs) + ".",
    ]
    return "\n".join(lines)


def _field_rows(schema: dict[str, Any]) -> list[str]:
    data_ref = schema["properties"]["data"]["$ref"].rsplit("/", 1)[-1]
    data = schema["$defs"][data_ref]
    required = set(data.get("required", []))
    rows = []
    for name, prop in data.get("properties", {}).items():
        need = "required" if name in required else "optional"
        rows.append(f"| `{name}` | {need} | {prop.get('description', '')} |")
    return rows


def messages_section() -> str:
    schemas = generate()
    out: list[str] = []
    for topic, models in CATALOGUE.items():
        kind = "command" if topic in COMMAND_TOPICS else "event"
        out.append(f"### `{topic}`\n")
        for model in models:
            name = model.__name__
            if topic != "invitations.events" and name == "CommandRejected":
                out.append(f"#### {name} (on `{topic}`)\n\nAs on `invitations.events`.\n")
                continue
            doc = " ".join((model.__doc__ or "").split())
            out.append(f"#### {name} ({kind})\n\n{doc}\n")
            out.append("| field of `data` | | meaning |\n|---|---|---|")
            out.extend(_field_rows(schemas[name]))
            example = json.dumps(envelope(name), indent=2, ensure_ascii=False)
            out.append(
                f"\nSchema: `client/contracts/schemas/{name}.json`. Example:\n\n"
                f"```json\n{example}\n```\n"
            )
    return "\n".join(out).rstrip()


def reasons_section() -> str:
    lines = ["| reason | meaning | what a gateway should do |", "|---|---|---|"]
    for reason in RejectionReason:
        meaning, action = REASONS[reason.value]
        lines.append(f"| `{reason.value}` | {meaning} | {action} |")
    return "\n".join(lines)


def http_section() -> str:
    lines = ["| service | method and path | what it answers |", "|---|---|---|"]
    for service in HTTP_SERVICES:
        for path, operations in openapi(service)["paths"].items():
            for method, operation in operations.items():
                summary = operation.get("summary") or operation.get("description", "")
                summary = " ".join(summary.split())
                lines.append(f"| {service} | `{method.upper()} {path}` | {summary} |")
    return "\n".join(lines)


SECTIONS = {
    "topics": topics_section,
    "messages": messages_section,
    "reasons": reasons_section,
    "http": http_section,
}


def refresh(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        return match.group(1) + SECTIONS[match.group(2)]() + "\n" + match.group(4)

    return _BLOCK.sub(replace, text)


def main(argv: list[str]) -> int:
    files = {CONTRACT: refresh(CONTRACT.read_text())}
    for service in HTTP_SERVICES:
        files[OPENAPI / f"{service}.json"] = json.dumps(openapi(service), indent=2, sort_keys=True)
        files[OPENAPI / f"{service}.json"] += "\n"
    return sync(files, argv[0] if argv else "check")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
