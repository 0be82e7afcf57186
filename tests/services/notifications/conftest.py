"""The notifications service in this process; emails read back from real Mailpit servers."""

from __future__ import annotations

import asyncio
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from contracts.topics import INVITATIONS_LINKS, MEMBERSHIP_EVENTS, NOTIFICATIONS_EVENTS
from services.notifications.app import build
from services.notifications.settings import NotificationsSettings
from stack import config, provision
from tests.harness import Running, base_settings, running_service
from tests.mailpit import Mailbox
from tests.processes import free_port
from tests.servers import Servers

ACCEPT_BASE = "https://app.example.test/pro"


def created_data(email: str, **overrides: Any) -> dict[str, Any]:
    return {
        "invitation_id": str(uuid.uuid4()),
        "email": email,
        "roles": ["practitioner", "client_administrator"],
        "message": "Welcome aboard!\nSee you Monday.",
        "invitee_name": "Ann Coach",
        "inviter_id": "owner-1",
        "inviter_name": "Olive Owner",
        "account_name": "Sunrise Health",
        "expires_at": "2026-12-04T10:00:00.000Z",
        "accept_token": "tok_" + uuid.uuid4().hex + "-_",
        **overrides,
    }


class NotificationsHarness(Running):
    mailbox: Mailbox

    async def invitation(
        self, account: str, email: str, type_: str = "InvitationCreated", **overrides: Any
    ) -> tuple[str, dict[str, Any]]:
        """What the invitations service publishes on the private topic with an
        InvitationCreated (or, with `resend_count` >= 1, an InvitationResent)."""
        assert (type_ == "InvitationResent") == (overrides.get("resend_count", 0) > 0)
        data = created_data(email, **overrides)
        event_id = await self.gateway.send(INVITATIONS_LINKS, "InvitationLinkIssued", account, data)
        return event_id, data

    async def result_of(self, cause_id: str) -> dict[str, Any]:
        """The email's final word: EmailSent or EmailFailed (an EmailDeferred may come first)."""
        found = await self.events.wait_for(
            lambda e: e.get("causationid") == cause_id and e["type"] != "EmailDeferred", 30
        )
        return found[0]


@pytest.fixture
async def notifications(
    servers: Servers, unique: str, request: pytest.FixtureRequest
) -> AsyncIterator[NotificationsHarness]:
    values = {
        **base_settings(servers, "notifications", unique),
        "smtp_host": servers.smtp_host,
        "smtp_port": servers.smtp_port,
        "accept_url_base": ACCEPT_BASE,
        "smtp_retry_base_seconds": 0.5,
        "smtp_retry_max_backoff_seconds": 2,
        "smtp_timeout_seconds": 5,
        "delivery_retry_poll_seconds": 0.3,
        **getattr(request, "param", {}),
    }
    settings = NotificationsSettings(**values)
    async with running_service(
        servers,
        unique,
        lambda clock: build(settings, clock),
        settings.kafka_group_id,
        [INVITATIONS_LINKS, MEMBERSHIP_EVENTS],
        INVITATIONS_LINKS,
        NOTIFICATIONS_EVENTS,
        NotificationsHarness,
    ) as harness:
        harness.mailbox = Mailbox(servers.mailpit_url)
        yield harness


class ExtraMailpit:
    """A second, real Mailpit on its own ports, e.g. started late or refusing recipients."""

    def __init__(self, tmp: Path, smtp_port: int, *args: str) -> None:
        self.smtp_port, self.http_port = smtp_port, free_port()
        self.command = [
            str(provision.mailpit(config.load())),
            f"--smtp=127.0.0.1:{smtp_port}",
            f"--listen=127.0.0.1:{self.http_port}",
            f"--database={tmp / f'mailpit-{smtp_port}.db'}",
            "--disable-version-check",
            "--smtp-disable-rdns",
            *args,
        ]
        self.log = tmp / f"mailpit-{smtp_port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.mailbox = Mailbox(f"http://127.0.0.1:{self.http_port}")

    async def start(self) -> None:
        self.process = subprocess.Popen(
            self.command, stdout=self.log.open("wb"), stderr=subprocess.STDOUT
        )
        for _ in range(100):
            try:
                await self.mailbox.messages_to("nobody@example.test")
                return
            except Exception:
                await asyncio.sleep(0.1)
        raise AssertionError(self.log.read_text())

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)


@pytest.fixture
def extra_mailpits(tmp_path: Path) -> Iterator[list[ExtraMailpit]]:
    started: list[ExtraMailpit] = []
    yield started
    for mailpit in started:
        mailpit.stop()
