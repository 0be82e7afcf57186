"""The committed AsyncAPI documents are what the FastStream apps generate today."""

from __future__ import annotations

import json

from services.asyncapi import DOCS, document, dump


def test_asyncapi_documents_are_fresh() -> None:
    for service in ("invitations", "membership", "notifications", "access_control"):
        committed = (DOCS / f"{service}.json").read_text()
        assert committed == dump(document(service)), (
            f"docs/asyncapi/{service}.json is stale: run python -m services.asyncapi write"
        )


def test_every_channel_names_its_contract_messages() -> None:
    spec = json.loads((DOCS / "invitations.json").read_text())
    assert spec["asyncapi"].startswith("3.")
    topics = {c["bindings"]["kafka"]["topic"] for c in spec["channels"].values()}
    assert topics == {
        "invitations.commands",
        "invitations.events",
        "invitations.links",
        "membership.events",
    }
    messages = spec["components"]["messages"]
    payloads = {
        ref["$ref"].rsplit("/", 1)[-1] for m in messages.values() for ref in m["payload"]["oneOf"]
    }
    assert {
        "InviteTeamMemberMessage",
        "InvitationCreatedMessage",
        "MemberJoinedMessage",
    } <= payloads
