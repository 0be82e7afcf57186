"""The invitation email people actually receive, read back from real SMTP servers."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from services.runtime.collection import Document
from tests.processes import free_port
from tests.services.notifications.conftest import ACCEPT_BASE, ExtraMailpit, NotificationsHarness

CLOSED_PORT = free_port()
REFUSING_PORT = free_port()


async def test_the_invitation_email_has_both_parts_the_recipient_subject_and_a_working_link(
    notifications: NotificationsHarness,
) -> None:
    account = f"acct:{notifications.unique}"  # ':' must be URL-encoded in the link
    to = f"ann-{notifications.unique}@example.com"
    cause_id, data = await notifications.invitation(account, to)
    result = await notifications.result_of(cause_id)
    assert result["type"] == "EmailSent"
    assert result["data"]["to"] == to and result["data"]["template"] == "invitation"
    assert result["data"]["message_id"] == f"<{cause_id}@example.test>"

    [summary] = await notifications.mailbox.wait_for(to)
    message = await notifications.mailbox.message(summary["ID"])
    assert [a["Address"] for a in message["To"]] == [to]
    assert message["To"][0]["Name"] == "Ann Coach"
    assert message["Subject"] == "Olive Owner invited you to join Sunrise Health on Pro Team"
    assert message["MessageID"] == f"{cause_id}@example.test"
    link = (
        f"{ACCEPT_BASE}/accounts/{quote(account, safe='')}/invitations/"
        f"{data['invitation_id']}/accept?token={data['accept_token']}"
    )
    assert "%3A" in link
    assert link in message["Text"]
    assert f'href="{link}"' in message["HTML"]
    assert "Accept Invitation" in message["HTML"] and "Accept Invitation" in message["Text"]
    assert "Practitioner and Client administrator" in message["Text"]
    assert "Friday, 4 December 2026 at 10:00 UTC" in message["Text"]
    assert "Welcome aboard!<br>\nSee you Monday." in message["HTML"].replace("\r\n", "\n")
    assert "Welcome aboard!\nSee you Monday." in message["Text"].replace("\r\n", "\n")
    assert "<img" not in message["HTML"] and "http://" not in message["HTML"].replace(
        ACCEPT_BASE, ""
    )
    assert data["accept_token"] not in str(result)


async def test_a_resend_is_a_reminder(notifications: NotificationsHarness) -> None:
    to = f"rem-{notifications.unique}@example.com"
    cause_id, _ = await notifications.invitation(
        notifications.account(), to, "InvitationResent", resend_count=1
    )
    assert (await notifications.result_of(cause_id))["type"] == "EmailSent"
    [summary] = await notifications.mailbox.wait_for(to)
    message = await notifications.mailbox.message(summary["ID"])
    assert message["Subject"].startswith("Reminder: ")
    assert "still waiting for you" in message["Text"]


async def test_a_hostile_custom_message_shows_literally(
    notifications: NotificationsHarness,
) -> None:
    to = f"xss-{notifications.unique}@example.com"
    hostile = "<script>alert('x')</script> {{ 7*7 }} {% if true %}yes{% endif %} & <b>bold</b>"
    cause_id, _ = await notifications.invitation(notifications.account(), to, message=hostile)
    await notifications.result_of(cause_id)
    [summary] = await notifications.mailbox.wait_for(to)
    message = await notifications.mailbox.message(summary["ID"])
    html = message["HTML"]
    assert "<script>" not in html and "<b>bold</b>" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    assert "{{ 7*7 }}" in html and "{% if true %}yes{% endif %}" in html
    assert ">49<" not in html and " 49 " not in html
    assert hostile in message["Text"]


async def test_line_breaks_in_names_add_no_header(notifications: NotificationsHarness) -> None:
    to = f"hdr-{notifications.unique}@example.com"
    evil = "Eve\r\nBcc: x@evil.test"
    cause_id, _ = await notifications.invitation(
        notifications.account(),
        to,
        invitee_name=evil,
        inviter_name=evil,
        account_name="Acme\nX-Injected: 1",
    )
    assert (await notifications.result_of(cause_id))["type"] == "EmailSent"
    [summary] = await notifications.mailbox.wait_for(to)
    headers = await notifications.mailbox.headers(summary["ID"])
    assert "Bcc" not in headers and "X-Injected" not in headers
    message = await notifications.mailbox.message(summary["ID"])
    assert message["Bcc"] == [] and [a["Address"] for a in message["To"]] == [to]
    assert "\n" not in message["Subject"] and "Eve Bcc: x@evil.test" in message["Subject"]
    for found in await notifications.mailbox.messages_to("x@evil.test"):  # matches names too
        detail = await notifications.mailbox.message(found["ID"])
        recipients = [a["Address"] for a in detail["To"] + detail["Cc"] + detail["Bcc"]]
        assert "x@evil.test" not in recipients


async def test_the_same_event_twice_sends_one_email(notifications: NotificationsHarness) -> None:
    to = f"dup-{notifications.unique}@example.com"
    account = notifications.account()
    cause_id, data = await notifications.invitation(account, to)
    await notifications.result_of(cause_id)
    import json

    from contracts.topics import INVITATIONS_LINKS

    envelope = {
        "specversion": "1.0",
        "id": cause_id,
        "source": "/services/invitations",
        "type": "InvitationLinkIssued",
        "time": "2026-11-27T21:04:05.123Z",
        "accountid": account,
        "data": data,
    }
    await notifications.gateway.send_raw(INVITATIONS_LINKS, account, json.dumps(envelope).encode())
    await notifications.events.settle(2)
    assert len(await notifications.mailbox.messages_to(to)) == 1
    sent = [e for e in notifications.events.envelopes(account) if e["causationid"] == cause_id]
    assert len(sent) == 1


async def test_an_invalid_address_is_a_permanent_failure_not_a_crash(
    notifications: NotificationsHarness,
) -> None:
    account = notifications.account()
    bad_id, _ = await notifications.invitation(account, "not an address\r\nBcc: x@evil.test")
    failed = await notifications.result_of(bad_id)
    assert failed["type"] == "EmailFailed"
    assert failed["data"]["permanent"] is True and failed["data"]["attempts"] == 0
    to = f"next-{notifications.unique}@example.com"
    good_id, _ = await notifications.invitation(account, to)
    assert (await notifications.result_of(good_id))["type"] == "EmailSent"


async def test_welcome_email_for_members_who_joined_by_invitation_but_not_the_owner(
    notifications: NotificationsHarness,
) -> None:
    from contracts.topics import MEMBERSHIP_EVENTS

    account = notifications.account()
    owner, member = (
        f"own-{notifications.unique}@example.com",
        f"mem-{notifications.unique}@example.com",
    )
    await notifications.gateway.send(
        MEMBERSHIP_EVENTS,
        "ProAccountRegistered",
        account,
        {"account_name": "Sunrise Health", "owner_user_id": "o", "owner_email": owner},
    )
    await notifications.gateway.send(
        MEMBERSHIP_EVENTS,
        "MemberJoined",
        account,
        {
            "member_id": "o",
            "email": owner,
            "roles": ["owner"],
            "invitation_id": None,
            "joined_at": "2026-11-27T10:00:00Z",
        },
    )
    joined = await notifications.gateway.send(
        MEMBERSHIP_EVENTS,
        "MemberJoined",
        account,
        {
            "member_id": "m",
            "email": member,
            "name": "Ann",
            "roles": ["practitioner"],
            "invitation_id": "5f0c2f4e-9a55-4a8e-8d3e-0b1f5d3c1a77",
            "joined_at": "2026-11-27T10:00:00Z",
        },
    )
    assert (await notifications.result_of(joined))["data"]["template"] == "welcome"
    [summary] = await notifications.mailbox.wait_for(member)
    assert summary["Subject"] == "Welcome to Sunrise Health on Pro Team"
    assert await notifications.mailbox.messages_to(owner) == []


@pytest.mark.parametrize("notifications", [{"smtp_port": CLOSED_PORT}], indirect=True)
async def test_emails_wait_while_smtp_is_unreachable_and_go_out_when_it_is_back(
    notifications: NotificationsHarness, extra_mailpits: list[ExtraMailpit], tmp_path: Path
) -> None:
    account = notifications.account()
    addresses = [f"wait{n}-{notifications.unique}@example.com" for n in range(3)]
    causes = [(await notifications.invitation(account, a))[0] for a in addresses]
    for _ in range(100):
        docs = [await notifications.service.store.document(c) for c in causes]
        if all(d and d["attempts"] >= 2 for d in docs):
            break
        await notifications.events.settle(0.1)
    assert all(d and d["status"] == "pending" and "Connect" in d["last_error"] for d in docs)
    # during the outage only "retrying" is said, once per email
    deferred = notifications.events.envelopes(account)
    assert sorted(e["causationid"] for e in deferred) == sorted(causes)
    assert {e["type"] for e in deferred} == {"EmailDeferred"}

    server = ExtraMailpit(tmp_path, CLOSED_PORT)
    extra_mailpits.append(server)
    await server.start()
    for cause in causes:
        assert (await notifications.result_of(cause))["type"] == "EmailSent"
    for address in addresses:
        assert len(await server.mailbox.wait_for(address)) == 1


@pytest.mark.parametrize("notifications", [{"smtp_port": REFUSING_PORT}], indirect=True)
async def test_a_5xx_for_one_recipient_does_not_stop_the_next(
    notifications: NotificationsHarness, extra_mailpits: list[ExtraMailpit], tmp_path: Path
) -> None:
    server = ExtraMailpit(tmp_path, REFUSING_PORT, "--smtp-allowed-recipients", "^ok-")
    extra_mailpits.append(server)
    await server.start()
    account = notifications.account()
    refused, _ = await notifications.invitation(account, f"no-{notifications.unique}@example.com")
    accepted, _ = await notifications.invitation(account, f"ok-{notifications.unique}@example.com")
    failed = await notifications.result_of(refused)
    assert failed["type"] == "EmailFailed"
    assert failed["data"]["permanent"] is True and re.search(r"\b550\b", failed["data"]["error"])
    assert (await notifications.result_of(accepted))["type"] == "EmailSent"
    assert len(await server.mailbox.wait_for(f"ok-{notifications.unique}@example.com")) == 1


class Killed(BaseException):
    """The process dies mid-send (kill -9): nothing after the claim runs."""


async def test_an_attempt_claimed_by_a_process_that_died_is_retried_after_its_lease(
    notifications: NotificationsHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process killed between claiming an attempt and recording it must not block the email
    forever, nor lose its lease early: the service's retrier leaves the email alone for the
    whole lease counted from the claim, then claims it again and sends it once."""

    handlers, store = notifications.service.handlers, notifications.service.store
    to = f"orphan-{notifications.unique}@example.com"
    later = handlers.clock.now() + timedelta(hours=1)  # not due: the service's retrier waits
    await store.deliveries.collection.insert(
        {
            "_id": "orphaned-cause",
            "version": 1,
            "template": "invitation",
            "accountid": notifications.account(),
            "correlationid": "c",
            "to": to,
            "to_name": "",
            "subject": "Orphaned",
            "html": "<p>x</p>",
            "text": "x",
            "message_id": "<orphaned-cause@example.test>",
            "attempts": 0,
            "status": "pending",
            "created_at": handlers.clock.now(),
            "next_attempt_at": later,
        }
    )
    stored = await store.deliveries.load("orphaned-cause")

    async def killed(message: object) -> None:
        raise Killed

    with monkeypatch.context() as patch:  # the process that dies, after its claim
        patch.setattr(handlers.mailer, "send", killed)
        with pytest.raises(Killed):
            await handlers.attempt(stored)
    lease = handlers.lease
    notifications.clock.advance(lease - timedelta(seconds=3))
    await asyncio.sleep(1)  # about three rounds of the service's retrier
    assert await notifications.mailbox.messages_to(to) == []  # still inside the lease
    notifications.clock.advance(timedelta(seconds=4))
    assert (await notifications.result_of("orphaned-cause"))["type"] == "EmailSent"
    assert (await store.document("orphaned-cause") or {})["status"] == "sent"
    assert len(await notifications.mailbox.wait_for(to)) == 1


async def test_a_database_outage_after_the_send_does_not_send_twice(
    notifications: NotificationsHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes away between SMTP's 250 and the delivery record (an outage test found
    it): the record is retried, not the send, and the email goes out once."""
    from pymongo.errors import AutoReconnect

    store = notifications.service.store
    deliveries = store.deliveries.collection
    real_replace = deliveries.replace
    failures = {"left": 3}

    async def replace_while_the_database_is_down(doc: Document, expected_version: int) -> bool:
        if doc.get("status") == "sent" and failures["left"]:
            failures["left"] -= 1
            raise AutoReconnect("connection refused (the database is restarting)")
        return await real_replace(doc, expected_version)

    monkeypatch.setattr(deliveries, "replace", replace_while_the_database_is_down)
    to = f"outage-{notifications.unique}@example.com"
    cause_id, _ = await notifications.invitation(notifications.account(), to)
    assert (await notifications.result_of(cause_id))["type"] == "EmailSent"
    assert failures["left"] == 0
    notifications.clock.advance(timedelta(minutes=10))  # past any lease: a retry would resend
    await notifications.service.handlers.retry_due()
    await notifications.events.settle(2)
    assert len(await notifications.mailbox.messages_to(to)) == 1
    assert (await store.document(cause_id) or {})["status"] == "sent"
