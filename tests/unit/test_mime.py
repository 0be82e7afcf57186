"""The wire writer (ASCII addresses) and the full EmailMessage builder make the same email, as
the recipient's mail program reads it after it went through SMTP (its bytes as sent, parsed
back): same addresses and names, subject, ids, parts and text."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import parseaddr
from typing import Any

import pytest

from services.notifications.mime import (
    MAX_LINE_OCTETS,
    Mail,
    Named,
    Outgoing,
    WireEmail,
    boundary_for,
    build_message,
    flatten,
    full_message,
    wire_email,
)
from services.notifications.settings import NotificationsSettings

TEXT = "Hi Lee,\n\nOlive invited you to join Sunrise Health.\nAccept: https://x.test/a?token=t\n"
HTML = "<html><body><p>Hi Lee,</p>\n<p>Olive invited you.</p></body></html>\n"


def on_the_wire(message: Mail, eight_bit: bool = True) -> bytes:
    """As aiosmtplib sends it: every line ending CRLF."""
    return re.sub(rb"\r?\n", b"\r\n", flatten(message, eight_bit))


def received(message: Mail, eight_bit: bool = True) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(on_the_wire(message, eight_bit))
    assert isinstance(parsed, EmailMessage)
    return parsed


def as_read(message: Mail, eight_bit: bool = True) -> dict[str, Any]:
    email = received(message, eight_bit)
    people = {
        header: [(a.display_name, a.addr_spec) for a in email[header].addresses]
        for header in ("From", "To", "Reply-To")
        if email[header] is not None
    }
    parts = [
        (part.get_content_type(), part.get_content_charset(), lines(part.get_content()))
        for part in email.iter_parts()
    ]
    return {
        **people,
        "Subject": str(email["Subject"]),
        "Message-ID": str(email["Message-ID"]),
        "Auto-Submitted": str(email["Auto-Submitted"]),
        "dated": email["Date"].datetime is not None,
        "type": email.get_content_type(),
        "parts": parts,
    }


def lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").rstrip("\n").split("\n")


CASES = {
    "plain ASCII": (
        Outgoing("lee@example.com", "Lee Park", "Olive invited you", HTML, TEXT, "<c1@x.test>"),
        {},
    ),
    "names and subject outside ASCII, with quotes and commas": (
        Outgoing(
            "lee@example.com",
            'Lée "Jr", O\'Brien',
            "Olïve invited you to join Clinique Été — ça va?",
            HTML.replace("Lee", "Lée"),
            TEXT.replace("Lee", "Lée 日本"),
            "<c2@x.test>",
        ),
        {
            "mail_from": "Équipe Pro <no-reply@example.test>",
            "mail_reply_to": '"Support, Desk" <help@example.test>',
        },
    ),
    "a 250-character subject and no name": (
        Outgoing("lee@example.com", "", "Ré " * 83 + "end", HTML, TEXT, "<c3@x.test>"),
        {},
    ),
    "a line longer than SMTP allows": (
        Outgoing(
            "lee@example.com",
            "Lee",
            "Long",
            HTML + "é" * 3000,
            "x" * 2000 + "\nend\n",
            "<c4@x.test>",
        ),
        {},
    ),
    "line breaks in a name and a subject": (
        Outgoing(
            "lee@example.com",
            "Eve\r\nBcc: x@evil.test",
            "Hi\nX-Injected: 1",
            HTML,
            TEXT,
            "<c5@x.test>",
        ),
        {},
    ),
    "a long ASCII subject": (
        Outgoing("lee@example.com", "Lee", "word " * 49 + "end", HTML, TEXT, "<c6@x.test>"),
        {},
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_both_builders_make_the_same_email(case: str) -> None:
    outgoing, overrides = CASES[case]
    settings = NotificationsSettings(**overrides)
    sender = parseaddr(settings.mail_from)
    reply_to = parseaddr(settings.mail_reply_to) if settings.mail_reply_to else None
    cheap = wire_email(outgoing, sender, reply_to)
    full = full_message(outgoing, sender, reply_to)
    assert as_read(cheap) == as_read(full)
    # a server without 8BITMIME gets 7-bit bytes that read the same
    assert as_read(cheap, eight_bit=False) == as_read(full)
    assert on_the_wire(cheap, eight_bit=False).isascii()
    read = as_read(cheap)
    assert read["To"] == [(outgoing.to_name.replace("\r\n", " ").strip(), outgoing.to)]
    assert [p[:2] for p in read["parts"]] == [("text/plain", "utf-8"), ("text/html", "utf-8")]
    assert "Bcc" not in received(cheap) and "X-Injected" not in received(cheap)
    assert all(len(line) <= MAX_LINE_OCTETS for line in on_the_wire(cheap).split(b"\r\n"))


def test_ascii_addresses_take_the_cheap_builder_and_others_the_full_one() -> None:
    settings = NotificationsSettings()
    ascii_to = Outgoing("lee@example.com", "Lée", "S", HTML, TEXT, "<c@x.test>")
    assert isinstance(build_message(ascii_to, settings), WireEmail)
    international = Outgoing("lée@exämple.com", "Lée", "S", HTML, TEXT, "<c@x.test>")
    built = build_message(international, settings)
    assert isinstance(built, EmailMessage)
    assert built["To"].addresses[0].addr_spec == "lée@exämple.com"


@pytest.mark.parametrize("builder", [wire_email, full_message])
def test_a_body_holding_the_boundary_does_not_split_the_email(
    builder: Callable[[Outgoing, Named, Named | None], Mail],
) -> None:
    plain = Outgoing("lee@example.com", "Lee", "S", HTML, TEXT, "<c7@x.test>")
    trap = f"--{boundary_for(plain)}\nContent-Type: text/html\n\n<p>not a part</p>\n"
    outgoing = replace(plain, text=TEXT + trap)
    sender = parseaddr(NotificationsSettings().mail_from)
    read = as_read(builder(outgoing, sender, None))
    assert [p[:2] for p in read["parts"]] == [("text/plain", "utf-8"), ("text/html", "utf-8")]
    assert read["parts"][0][2] == lines(outgoing.text)
    assert read["parts"][1][2] == lines(HTML)
    assert boundary_for(outgoing) != boundary_for(plain)
    assert f"--{boundary_for(outgoing)}".encode() in on_the_wire(builder(outgoing, sender, None))
