"""The pipeline counts every record by outcome (the numbers /metrics serves)."""

from __future__ import annotations

from contracts.topics import INVITATIONS_EVENTS, MEMBERSHIP_COMMANDS, MEMBERSHIP_EVENTS
from services.membership.app import wire
from services.runtime.settings import ServiceSettings
from tests.handlers.kit import in_memory


async def test_outcomes_rejections_dead_letters_and_publications_are_counted() -> None:
    membership = in_memory(
        "membership", ServiceSettings(), wire, MEMBERSHIP_EVENTS, MEMBERSHIP_COMMANDS
    )
    registration = {
        "account_name": "Sunrise",
        "owner_user_id": "owner-1",
        "owner_email": "owner-1@example.com",
    }
    first = await membership.send("RegisterProAccount", registration)
    await membership.send("RegisterProAccount", {**registration, "owner_user_id": "owner-2"})
    refused = await membership.send("DisconnectMember", {"member_id": "x"}, actor="nobody")
    await membership.send(
        "DisconnectMember", {"member_id": "x"}, actor="nobody", message_id=refused
    )
    await membership.send("FireEveryone", {})
    await membership.raw(MEMBERSHIP_COMMANDS, b"garbage")
    await membership.raw(INVITATIONS_EVENTS, b"{}")
    assert first

    def value(name: str, **labels: str) -> float:
        found = membership.runtime.metrics.registry.get_sample_value(name, labels)
        return found or 0.0

    handled = "pro_team_messages_handled_total"
    commands = {"topic": MEMBERSHIP_COMMANDS}
    assert value(handled, **commands, type="RegisterProAccount", outcome="handled") == 1
    assert value(handled, **commands, type="RegisterProAccount", outcome="rejected") == 1
    assert value(handled, **commands, type="DisconnectMember", outcome="rejected") == 1
    assert value(handled, **commands, type="DisconnectMember", outcome="duplicate") == 1
    assert value(handled, **commands, type="unknown", outcome="rejected") == 1
    assert value(handled, **commands, type="unknown", outcome="dead_lettered") == 1
    rejected = "pro_team_commands_rejected_total"
    assert value(rejected, type="RegisterProAccount", reason="conflict") == 1
    assert value(rejected, type="DisconnectMember", reason="forbidden") == 1
    assert value(rejected, type="unknown", reason="invalid") == 1
    assert value("pro_team_dead_letters_total", topic=MEMBERSHIP_COMMANDS) == 1
    assert value("pro_team_dead_letters_total", topic=INVITATIONS_EVENTS) == 1
    published = "pro_team_events_published_total"
    assert value(published, topic=MEMBERSHIP_EVENTS, type="ProAccountRegistered") == 1
    assert value(published, topic=MEMBERSHIP_EVENTS, type="MemberJoined") == 1
    assert value(published, topic=MEMBERSHIP_EVENTS, type="CommandRejected") == 3
    count = "pro_team_handler_duration_seconds_count"
    assert value(count, **commands, type="RegisterProAccount") == 2
