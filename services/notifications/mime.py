"""An email as MIME: multipart/alternative, plain text first, HTML second; no header value
carries a line break of its own (names and subjects pass `header_safe`).

Two builders that produce the same email as a recipient reads it (tests/unit/test_mime.py
parses both and compares): the `email.message.EmailMessage` one handles everything, including
addresses outside ASCII (SMTPUTF8); whenever every address is ASCII, which is nearly always, the
email is written straight to the bytes SMTP carries (`WireEmail`): building it with the email
package's compat32 classes and writing it out with its generator cost 439 us an invitation
email, most of it folding headers that need no folding; this costs 56 us
(`bench/email_writing.py`).
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr, formatdate, parseaddr
from functools import cache

from aiosmtplib.email import flatten_message

from services.notifications.domain import header_safe
from services.notifications.settings import NotificationsSettings

# SMTP allows lines of at most 998 octets; a body with a longer line is base64-encoded instead.
MAX_LINE_OCTETS = 998
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


@dataclass(frozen=True)
class Outgoing:
    to: str
    to_name: str
    subject: str
    html: str
    text: str
    message_id: str


Named = tuple[str, str]  # (display name, address)


@dataclass(frozen=True)
class WireEmail:
    """An email whose addresses are all ASCII, as the bytes SMTP carries: `head` holds the
    message's headers (each line ending CRLF), the parts follow under `boundary`."""

    sender: str  # the envelope's addresses
    recipient: str
    head: str
    boundary: str
    text: str
    html: str

    def as_bytes(self, eight_bit: bool = True) -> bytes:
        """`eight_bit`: the server takes 8BITMIME; without it, a body outside ASCII goes as
        base64, as does any body with a line longer than SMTP allows."""
        out = [self.head, f'Content-Type: multipart/alternative; boundary="{self.boundary}"\r\n']
        for body, subtype in ((self.text, "plain"), (self.html, "html")):
            encoding, payload = _body(body, eight_bit)
            out.append(
                f"\r\n--{self.boundary}\r\n"
                f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
                f"Content-Transfer-Encoding: {encoding}\r\n\r\n{payload}"
            )
        out.append(f"\r\n--{self.boundary}--\r\n")
        return "".join(out).encode()


Mail = EmailMessage | WireEmail


def build_message(outgoing: Outgoing, settings: NotificationsSettings) -> Mail:
    sender, reply_to = _senders(settings.mail_from, settings.mail_reply_to)
    addresses = [outgoing.to, sender[1], *([] if reply_to is None else [reply_to[1]])]
    if all(address.isascii() for address in addresses):
        return wire_email(outgoing, sender, reply_to)
    return full_message(outgoing, sender, reply_to)


@cache
def _senders(mail_from: str, mail_reply_to: str) -> tuple[Named, Named | None]:
    """The settings' From and Reply-To, parsed once rather than for every email (12 us each)."""
    return parseaddr(mail_from), parseaddr(mail_reply_to) if mail_reply_to else None


def wire_email(outgoing: Outgoing, sender: Named, reply_to: Named | None) -> WireEmail:
    """Names outside ASCII become RFC 2047 encoded words (`formataddr`), as does a subject."""
    headers = [
        f"From: {formataddr((header_safe(sender[0]), sender[1]))}",
        f"To: {formataddr((header_safe(outgoing.to_name), outgoing.to))}",
    ]
    if reply_to is not None:
        headers.append(f"Reply-To: {formataddr((header_safe(reply_to[0]), reply_to[1]))}")
    headers += [
        f"Subject: {_header_text('Subject', header_safe(outgoing.subject, 250))}",
        *(f"{name}: {value}" for name, value in _identity(outgoing)),
        "MIME-Version: 1.0",
    ]
    return WireEmail(
        sender=sender[1],
        recipient=outgoing.to,
        head="".join(f"{header}\r\n" for header in headers),
        boundary=boundary_for(outgoing),
        text=outgoing.text,
        html=outgoing.html,
    )


def _identity(outgoing: Outgoing) -> tuple[tuple[str, str], ...]:
    """The headers both builders write alike."""
    return (
        ("Message-ID", outgoing.message_id),
        ("Date", formatdate(usegmt=True)),
        ("Auto-Submitted", "auto-generated"),
    )


def flatten(mail: Mail, eight_bit: bool = True) -> bytes:
    """The bytes SMTP carries (tests, and senders that keep what they were given)."""
    if isinstance(mail, WireEmail):
        return mail.as_bytes(eight_bit)
    return flatten_message(mail, cte_type="8bit" if eight_bit else "7bit")


def _header_text(name: str, value: str) -> str:
    """RFC 2047 encoded words when the text is not ASCII (folded for a header of `name`)."""
    if value.isascii():
        return value
    return Header(value, "utf-8", header_name=name).encode(linesep="\r\n")


def _body(text: str, eight_bit: bool) -> tuple[str, str]:
    """The transfer encoding and the body, its line breaks CRLF."""
    lines = _LINE_BREAK.sub("\r\n", text)
    octets = lines.encode()
    fits = all(len(line) <= MAX_LINE_OCTETS for line in octets.split(b"\r\n"))
    if fits and text.isascii():
        return "7bit", lines
    if fits and eight_bit:
        return "8bit", lines
    encoded = base64.encodebytes(octets).decode("ascii")  # text in canonical CRLF form
    return "base64", encoded.replace("\n", "\r\n").removesuffix("\r\n")


def boundary_for(outgoing: Outgoing) -> str:
    """Derived from the Message-ID, and held by neither body (a body's line that started with
    it would end the part there)."""
    boundary = _derived(outgoing.message_id)
    while boundary in outgoing.text or boundary in outgoing.html:
        boundary = _derived(boundary)
    return boundary


def _derived(seed: str) -> str:
    return "==pro-team-" + hashlib.blake2b(seed.encode(), digest_size=12).hexdigest()


def full_message(outgoing: Outgoing, sender: Named, reply_to: Named | None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = Address(header_safe(sender[0]), addr_spec=sender[1])
    local, _, domain = outgoing.to.rpartition("@")
    message["To"] = Address(header_safe(outgoing.to_name), username=local, domain=domain)
    if reply_to is not None:
        message["Reply-To"] = Address(header_safe(reply_to[0]), addr_spec=reply_to[1])
    message["Subject"] = header_safe(outgoing.subject, 250)
    for name, value in _identity(outgoing):
        message[name] = value
    message.set_content(outgoing.text)
    message.add_alternative(outgoing.html, subtype="html")
    message.set_boundary(boundary_for(outgoing))
    return message
