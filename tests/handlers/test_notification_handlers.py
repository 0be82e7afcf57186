"""Every notifications event and the delivery state machine, over the in-memory unit of work
and a recording mailer (the real SMTP path is tests/services/notifications)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest

from contracts.envelope import derived_id
from contracts.topics import INVITATIONS_LINKS, MEMBERSHIP_EVENTS, NOTIFICATIONS_EVENTS
from services.notifications.app import NotificationsService, wire
from services.notifications.mailer import SendFailure
from services.notifications.mime import Mail, flatten
from services.notifications.settings import NotificationsSettings
from services.runtime.service import Runtime
from tests.handlers.kit import InMemory, in_memory
from tests.lost_cancellation import refused_connect

Notifications = InMemory[NotificationsService]


class RecordingMailer:
    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.failures: list[SendFailure] = []  # raised, in order, before anything is sent

    async def send(self, message: Mail) -> None:
        """Keeps the email as its recipient reads it (flattened, parsed back)."""
        if self.failures:
            raise self.failures.pop(0)
        parsed = BytesParser(policy=policy.default).parsebytes(flatten(message))
        assert isinstance(parsed, EmailMessage)
        self.sent.append(parsed)

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.sent if m["To"].addresses[0].addr_spec == address]


def make(mailer: RecordingMailer, **settings: Any) -> Notifications:
    values = NotificationsSettings(
        accept_url_base="https://app.example.test/pro", smtp_max_attempts=3, **settings
    )

    def wired(runtime: Runtime) -> NotificationsService:
        return wire(runtime, values, mailer)

    return in_memory("notifications", values, wired, NOTIFICATIONS_EVENTS, None)


@pytest.fixture
def mailer() -> RecordingMailer:
    return RecordingMailer()


@pytest.fixture
def notifications(mailer: RecordingMailer) -> Notifications:
    return make(mailer)


def link(email: str, **overrides: Any) -> dict[str, Any]:
    return {
        "invitation_id": str(uuid.uuid4()),
        "email": email,
        "roles": ["practitioner"],
        "message": "Welcome aboard!",
        "invitee_name": "Ann",
        "inviter_id": "owner-1",
        "inviter_name": "Olive",
        "account_name": "Sunrise Health",
        "expires_at": "2026-12-05T10:00:00.000Z",
        "accept_token": "tok-" + uuid.uuid4().hex,
        **overrides,
    }


async def issue(service: Notifications, data: dict[str, Any], **kw: Any) -> str:
    return await service.send(
        "InvitationLinkIssued", data, topic=INVITATIONS_LINKS, actor=None, **kw
    )


async def test_an_invitation_email_is_sent_once_and_reported(
    notifications: Notifications, mailer: RecordingMailer
) -> None:
    data = link("ann@example.com")
    cause = await issue(notifications, data)
    await issue(notifications, data, message_id=cause)  # the same event again
    [email] = mailer.to("ann@example.com")
    assert email["Subject"] == "Olive invited you to join Sunrise Health on Pro Team"
    assert email["Message-ID"] == f"<{cause}@example.test>"
    body = email.get_body(("plain",))
    assert body is not None and data["accept_token"] in body.get_content()
    report = notifications.outcome(cause)
    assert (report["type"], report["id"]) == ("EmailSent", derived_id(cause, "EmailSent"))
    stored = await notifications.service.store.document(cause) or {}
    assert stored["status"] == "sent" and stored["html"] is None and stored["text"] is None


async def test_a_reminder_says_so(notifications: Notifications, mailer: RecordingMailer) -> None:
    await issue(notifications, link("ann@example.com", resend_count=2))
    assert mailer.sent[0]["Subject"].startswith("Reminder: ")


async def test_a_bad_address_fails_for_good_without_sending(
    notifications: Notifications, mailer: RecordingMailer
) -> None:
    cause = await issue(notifications, link("ann@example.com\r\nBcc: x@example.com"))
    report = notifications.outcome(cause)
    assert (report["type"], report["data"]["permanent"]) == ("EmailFailed", True)
    assert mailer.sent == []


async def test_transient_failures_back_off_then_send(
    notifications: Notifications, mailer: RecordingMailer
) -> None:
    mailer.failures = [SendFailure("421 try later", permanent=False)]
    cause = await issue(notifications, link("ann@example.com"))
    stored = await notifications.service.store.document(cause) or {}
    assert (stored["status"], stored["attempts"], stored["last_error"]) == (
        "pending",
        1,
        "421 try later",
    )
    handlers = notifications.service.handlers
    assert await handlers.retry_due() == 0  # not due yet
    notifications.clock.advance(timedelta(seconds=2))
    assert await handlers.retry_due() == 1
    # the first failure says "retrying" (EmailDeferred), then the email goes out once
    assert notifications.types(cause) == ["EmailDeferred", "EmailSent"] and len(mailer.sent) == 1


class Killed(BaseException):
    """The process dies mid-send (kill -9): nothing after the claim runs."""


async def a_retry_due(notifications: Notifications, mailer: RecordingMailer) -> str:
    """An invitation email whose first attempt failed, now due for its retry."""
    mailer.failures = [SendFailure("421 try later", permanent=False)]
    cause = await issue(notifications, link("ann@example.com"))
    notifications.clock.advance(timedelta(seconds=2))
    return cause


async def test_a_retry_claimed_by_a_process_that_died_waits_out_its_lease_then_sends(
    notifications: Notifications, mailer: RecordingMailer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lease runs from the claim: the whole of it, whenever the claim was made (a lease
    numbered by fixed periods once ended a moment after its claim and let a retrier send
    beside a live sender)."""
    cause = await a_retry_due(notifications, mailer)
    handlers = notifications.service.handlers
    lease = handlers.lease

    async def killed(message: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:
        patch.setattr(mailer, "send", killed)
        with pytest.raises(Killed):
            await handlers.retry_due()
    await handlers.retry_due()
    notifications.clock.advance(lease - timedelta(seconds=1))
    await handlers.retry_due()
    assert mailer.sent == []  # still inside the dead process's lease
    notifications.clock.advance(timedelta(seconds=2))
    await handlers.retry_due()
    assert len(mailer.sent) == 1 and notifications.types(cause) == ["EmailDeferred", "EmailSent"]


async def test_two_retriers_that_read_the_same_due_delivery_send_it_once(
    notifications: Notifications, mailer: RecordingMailer
) -> None:
    cause = await a_retry_due(notifications, mailer)
    store, handlers = notifications.service.store, notifications.service.handlers
    [due] = await store.due(notifications.clock.now())
    await asyncio.gather(handlers.attempt(due), handlers.attempt(due))
    assert len(mailer.sent) == 1 and notifications.types(cause) == ["EmailDeferred", "EmailSent"]
    assert (await store.document(cause) or {})["attempts"] == 2


async def test_permanent_and_exhausted_failures_are_reported(
    notifications: Notifications, mailer: RecordingMailer
) -> None:
    mailer.failures = [SendFailure("550 no such user", permanent=True)]
    refused = await issue(notifications, link("gone@example.com"))
    assert notifications.outcome(refused)["data"]["permanent"] is True
    mailer.failures = [SendFailure("421 busy", permanent=False)] * 3
    busy = await issue(notifications, link("busy@example.com"))
    for _ in range(3):
        notifications.clock.advance(timedelta(minutes=5))
        await notifications.service.handlers.retry_due()
    deferred, report = notifications.caused_by(busy)
    assert (deferred["type"], deferred["data"]["attempts"]) == ("EmailDeferred", 1)
    assert (report["type"], report["data"]["attempts"], report["data"]["permanent"]) == (
        "EmailFailed",
        3,
        False,
    )
    assert mailer.sent == []


async def test_welcome_emails_for_invited_members_only(
    notifications: Notifications, mailer: RecordingMailer
) -> None:
    await notifications.send(
        "ProAccountRegistered",
        {"account_name": "Sunrise Health", "owner_user_id": "o", "owner_email": "o@example.com"},
        topic=MEMBERSHIP_EVENTS,
        actor=None,
    )
    joined = {"email": "o@example.com", "roles": ["owner"], "joined_at": "2026-11-28T10:00:00Z"}
    owner = await notifications.send(
        "MemberJoined", {**joined, "member_id": "o"}, topic=MEMBERSHIP_EVENTS, actor=None
    )
    member = await notifications.send(
        "MemberJoined",
        {
            **joined,
            "member_id": "ann",
            "email": "ann@example.com",
            "roles": ["practitioner"],
            "invitation_id": str(uuid.uuid4()),
            "name": "Ann",
        },
        topic=MEMBERSHIP_EVENTS,
        actor=None,
    )
    assert notifications.caused_by(owner) == []
    assert notifications.outcome(member)["data"]["template"] == "welcome"
    [welcome] = mailer.sent
    assert welcome["Subject"] == "Welcome to Sunrise Health on Pro Team"


async def test_welcome_emails_can_be_switched_off(mailer: RecordingMailer) -> None:
    quiet = make(mailer, send_welcome_email=False)
    data = {
        "member_id": "ann",
        "email": "ann@example.com",
        "roles": ["practitioner"],
        "invitation_id": str(uuid.uuid4()),
        "joined_at": "2026-11-28T10:00:00Z",
    }
    await quiet.send("MemberJoined", data, topic=MEMBERSHIP_EVENTS, actor=None)
    assert mailer.sent == [] and quiet.published() == []


async def test_garbage_on_the_links_topic_is_dead_lettered(notifications: Notifications) -> None:
    await notifications.raw(INVITATIONS_LINKS, b"{}")
    await issue(notifications, {"email": "ann@example.com"})
    assert len(notifications.dead_letters(INVITATIONS_LINKS)) == 2


class RefusingServer(RecordingMailer):
    """A mail server that is down: every connection is refused, as aiosmtplib meets it on
    Python 3.11 (`tests/lost_cancellation.py`); `stop_on_next` is cancelled in the same loop
    turn as the next refusal, as a shutdown can be."""

    def __init__(self) -> None:
        super().__init__()
        self.connects = 0
        self.stop_on_next: asyncio.Task[None] | None = None

    async def send(self, message: Mail) -> None:
        self.connects += 1
        stopping, self.stop_on_next = self.stop_on_next, None
        try:
            await refused_connect(cancel_with_it=stopping.cancel if stopping else None)
        except ConnectionRefusedError as exc:
            raise SendFailure("SMTP unavailable: refused", permanent=False) from exc


async def test_a_shutdown_stops_the_retrier_even_when_it_lands_on_a_refused_connection() -> None:
    server = RefusingServer()
    notifications = make(server)
    for n in range(5):
        await issue(notifications, link(f"ann{n}@example.com"))  # each refused once
    notifications.clock.advance(timedelta(minutes=5))  # all five due again
    retrier = asyncio.create_task(notifications.service.handlers.run_retrier())
    server.stop_on_next = retrier
    tried_before = server.connects
    await asyncio.wait({retrier}, timeout=5)
    assert retrier.cancelled()
    assert server.connects - tried_before == 1  # the round ended with the attempt under way
