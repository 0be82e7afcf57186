"""What an operator sees: Prometheus counters that equal what happened, lag and outbox backlog
at zero once the work is done, and one trace that follows an invitation from the gateway's
command through invitations, membership and notifications (real Kafka, FerretDB, Mailpit; the
four services in this process so the in-memory span exporter sees them all)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from contracts.topics import (
    ACCESS,
    INVITATIONS_COMMANDS,
    INVITATIONS_EVENTS,
    INVITATIONS_LINKS,
    MEMBERSHIP_COMMANDS,
    MEMBERSHIP_EVENTS,
    NOTIFICATIONS_EVENTS,
)
from services.access_control.app import build as build_access
from services.access_control.settings import AccessControlSettings
from services.invitations.app import build as build_invitations
from services.invitations.settings import InvitationsSettings
from services.membership.app import build as build_membership
from services.notifications.app import build as build_notifications
from services.notifications.settings import NotificationsSettings
from services.runtime.service import Runtime
from services.runtime.settings import ServiceSettings
from services.runtime.tracing import trace_extension
from tests.harness import base_settings
from tests.kafka_tools import Gateway, Tap, close_tap, open_tap, position_group_at_end
from tests.mailpit import Mailbox
from tests.servers import Servers

_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def spans() -> InMemorySpanExporter:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(_EXPORTER))
    trace.set_tracer_provider(provider)
    return _EXPORTER


@dataclass
class Four:
    runtimes: dict[str, Runtime]
    gateway: Gateway
    taps: dict[str, Tap]
    mailbox: Mailbox

    async def scrape(self, service: str) -> dict[str, float]:
        app = self.runtimes[service].http_app()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://t"
        ) as client:
            response = await client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        samples: dict[str, float] = {}
        for line in response.text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)
        return samples


def sample(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of `name` over the samples carrying these labels (0 when none)."""
    total = 0.0
    for key, value in samples.items():
        metric, _, rest = key.partition("{")
        if metric != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if all(found.get(k) == v for k, v in labels.items()):
            total += value
    return total


@pytest.fixture
async def four(servers: Servers, unique: str) -> AsyncIterator[Four]:
    common = {**base_settings(servers, "x", unique), "outbox_sweep_seconds": 1}

    def settings(name: str) -> dict[str, Any]:
        return {**common, "mongodb_db": f"{name}_{unique}", "kafka_group_id": f"{name}-{unique}"}

    runtimes = {
        "invitations": build_invitations(
            InvitationsSettings(**settings("invitations"), projection_grace_seconds=2)
        ).runtime,
        "membership": build_membership(ServiceSettings(**settings("membership"))).runtime,
        "notifications": build_notifications(
            NotificationsSettings(
                **settings("notifications"),
                smtp_host=servers.smtp_host,
                smtp_port=servers.smtp_port,
                accept_url_base="https://app.example.test",
            )
        ).runtime,
        "access_control": build_access(AccessControlSettings(**settings("access_control"))).runtime,
    }
    for name in runtimes:
        await position_group_at_end(servers.kafka, f"{name}-{unique}", list(ACCESS[name].consumes))
    producer = AIOKafkaProducer(**servers.kafka.aiokafka(), acks="all")
    await producer.start()
    topics = [MEMBERSHIP_EVENTS, INVITATIONS_EVENTS, INVITATIONS_LINKS, NOTIFICATIONS_EVENTS]
    taps = {topic: await open_tap(servers.kafka, topic) for topic in topics}
    async with AsyncExitStack() as stack:
        for runtime in runtimes.values():
            await stack.enter_async_context(runtime.running())
        yield Four(runtimes, Gateway(producer), taps, Mailbox(servers.mailpit_url))
    for tap in taps.values():
        await close_tap(tap)
    await producer.stop()


async def test_counters_lag_backlog_and_one_trace_across_the_services(
    four: Four, spans: InMemorySpanExporter, unique: str
) -> None:
    account, ann = f"acct-obs-{unique}", f"ann-{unique}@example.com"
    gateway, taps = four.gateway, four.taps
    await gateway.send(
        MEMBERSHIP_COMMANDS,
        "RegisterProAccount",
        account,
        {"account_name": "Sunrise", "owner_user_id": "owner-1", "owner_email": "o@example.com"},
        "owner-1",
    )
    await taps[MEMBERSHIP_EVENTS].wait_for(lambda e: e["type"] == "MemberJoined")

    tracer = trace.get_tracer("gateway")
    with tracer.start_as_current_span("gateway: invite") as root:
        invite = await gateway.send(
            INVITATIONS_COMMANDS,
            "InviteTeamMember",
            account,
            {"email": ann, "roles": ["practitioner"]},
            "owner-1",
            extension=trace_extension(),
        )
    created = await taps[INVITATIONS_EVENTS].outcome_of(invite)
    assert created["type"] == "InvitationCreated", created
    [link] = await taps[INVITATIONS_LINKS].wait_for(lambda e: e["causationid"] == invite)
    await taps[NOTIFICATIONS_EVENTS].wait_for(lambda e: e["causationid"] == link["id"])
    accept = await gateway.send(
        INVITATIONS_COMMANDS,
        "AcceptInvitation",
        account,
        {
            "invitation_id": created["data"]["invitation_id"],
            "token": link["data"]["accept_token"],
            "user_id": "u-ann",
            "email": ann,
        },
    )
    assert (await taps[INVITATIONS_EVENTS].outcome_of(accept))["type"] == "InvitationAccepted"
    await taps[NOTIFICATIONS_EVENTS].wait_for(lambda e: e["data"]["template"] == "welcome")
    stranger = await gateway.send(
        INVITATIONS_COMMANDS,
        "InviteTeamMember",
        account,
        {"email": "x@example.com", "roles": ["practitioner"]},
        "stranger",
    )
    assert (await taps[INVITATIONS_EVENTS].outcome_of(stranger))["data"]["reason"] == "forbidden"
    await gateway.send_raw(INVITATIONS_COMMANDS, account, b"not json at all")

    async def settled() -> dict[str, dict[str, float]]:
        for _ in range(100):
            scraped = {name: await four.scrape(name) for name in four.runtimes}
            lag = sum(sample(s, "pro_team_consumer_lag") for s in scraped.values())
            backlog = sum(sample(s, "pro_team_outbox_backlog_documents") for s in scraped.values())
            dead = sample(scraped["invitations"], "pro_team_dead_letters_total")
            if lag == 0 and backlog == 0 and dead == 1:
                return scraped
            await asyncio.sleep(0.2)
        raise AssertionError(f"lag or backlog never reached 0: {scraped}")

    m = await settled()
    inv, mem, notif, access = (
        m[n] for n in ("invitations", "membership", "notifications", "access_control")
    )
    handled = "pro_team_messages_handled_total"
    assert (
        sample(inv, handled, topic=INVITATIONS_COMMANDS, type="InviteTeamMember", outcome="handled")
        == 1
    )
    assert (
        sample(inv, handled, topic=INVITATIONS_COMMANDS, type="AcceptInvitation", outcome="handled")
        == 1
    )
    assert sample(inv, handled, topic=INVITATIONS_COMMANDS, outcome="rejected") == 1
    assert sample(inv, handled, topic=INVITATIONS_COMMANDS, outcome="dead_lettered") == 1
    assert (
        sample(inv, "pro_team_commands_rejected_total", type="InviteTeamMember", reason="forbidden")
        == 1
    )
    published = "pro_team_events_published_total"
    assert sample(inv, published, topic=INVITATIONS_EVENTS, type="InvitationCreated") == 1
    assert sample(inv, published, topic=INVITATIONS_LINKS, type="InvitationLinkIssued") == 1
    assert sample(inv, published, topic=INVITATIONS_EVENTS, type="CommandRejected") == 1
    assert sample(mem, published, type="MemberJoined") == 2  # the owner, then Ann
    assert sample(mem, handled, topic=INVITATIONS_EVENTS, type="InvitationCreated") == 1
    assert sample(notif, "pro_team_emails_total", template="invitation", outcome="sent") == 1
    assert sample(notif, "pro_team_emails_total", template="welcome", outcome="sent") == 1
    assert sample(notif, published, type="EmailSent") == 2
    assert sample(access, handled, topic=MEMBERSHIP_EVENTS, type="MemberJoined") == 2
    assert sample(inv, "pro_team_handler_duration_seconds_count", type="InviteTeamMember") >= 2
    assert sample(inv, "faststream_received_messages_total") >= 5  # FastStream's own middleware
    assert sample(inv, "pro_team_outbox_oldest_seconds") == 0

    ours = [
        s
        for s in spans.get_finished_spans()
        if s.context.trace_id == root.get_span_context().trace_id
    ]
    by_service: dict[str, list[ReadableSpan]] = {}
    for span in ours:
        service = str((span.attributes or {}).get("pro_team.service", "gateway"))
        by_service.setdefault(service, []).append(span)
    assert {"invitations", "membership", "notifications"} <= set(by_service), by_service
    [invited] = [s for s in by_service["invitations"] if "InviteTeamMember" in s.name]
    assert invited.parent is not None and invited.parent.span_id == root.get_span_context().span_id
    [emailed] = [s for s in by_service["notifications"] if "InvitationLinkIssued" in s.name]
    assert emailed.parent is not None and emailed.parent.span_id == invited.context.span_id
