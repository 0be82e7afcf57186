"""Writing an email out to the bytes SMTP carries: the email package's way against ours.

    .venv/bin/python -m bench.email_writing [--emails 2000] [--rounds 5]

The same invitation email (rendered by the service's own templates) is written three ways,
the ways alternating in every round, and the median time per email is printed with the ratios
(same run):

- **compat32**: what the service did before: the email package's compat32 classes, written out
  by aiosmtplib's `flatten_message` (the generator draws a random boundary and searches both
  bodies for it, and folds every header);
- **EmailMessage**: the builder the service keeps for addresses outside ASCII;
- **wire**: `services/notifications/mime.WireEmail`, what it sends whenever every address is
  ASCII.

No server is needed: this is the CPU one email costs the notifications service.
"""

from __future__ import annotations

import argparse
import asyncio
import email.charset
import statistics
import time
from collections.abc import Callable
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.utils import formataddr, formatdate, parseaddr

from aiosmtplib.email import flatten_message

from services.notifications.domain import InvitationEmail, header_safe
from services.notifications.i18n import DEFAULT_LOCALE
from services.notifications.mailer import Renderer
from services.notifications.mime import Named, Outgoing, full_message, wire_email
from services.notifications.settings import NotificationsSettings

_EIGHT_BIT = email.charset.Charset("utf-8")
_EIGHT_BIT.body_encoding = None  # type: ignore[assignment]  # 7bit or 8bit as the text needs


def compat32_message(outgoing: Outgoing, sender: Named) -> Message:
    """The service's former builder for ASCII addresses (commit 2faaebe), the baseline."""
    message = MIMEMultipart("alternative")
    message["From"] = formataddr((header_safe(sender[0]), sender[1]))
    message["To"] = formataddr((header_safe(outgoing.to_name), outgoing.to))
    message["Subject"] = header_safe(outgoing.subject, 250)
    message["Message-ID"] = outgoing.message_id
    message["Date"] = formatdate(usegmt=True)
    message["Auto-Submitted"] = "auto-generated"
    for body, subtype in ((outgoing.text, "plain"), (outgoing.html, "html")):
        part = MIMENonMultipart("text", subtype)
        part.set_payload(body, _EIGHT_BIT)
        message.attach(part)
    return message


async def invitation_email() -> Outgoing:
    email = InvitationEmail(
        product_name="Pro Team",
        account_name="Sunrise Health",
        inviter_name="Olive Stone",
        invitee_name="Lee Park",
        roles="a practitioner",
        message="Welcome to the team! We are glad to have you with us.",
        accept_url="https://app.example.test/invitations/accept?token=" + "t" * 43,
        expires="6 December 2026, 12:00 UTC",
        reminder=False,
    )
    rendered = await Renderer().render_all("invitation", email, DEFAULT_LOCALE)
    return Outgoing(
        "lee.park@example.com",
        "Lee Park",
        rendered.subject,
        rendered.html,
        rendered.text,
        "<0b5e7d5e3c1e4f0e9d7e0123456789ab@pro-team.example>",
    )


def per_email(write: Callable[[], bytes], emails: int) -> float:
    start = time.perf_counter()
    for _ in range(emails):
        write()
    return (time.perf_counter() - start) / emails


def main(emails: int, rounds: int) -> None:
    outgoing = asyncio.run(invitation_email())
    sender = parseaddr(NotificationsSettings().mail_from)
    ways: dict[str, Callable[[], bytes]] = {
        "compat32 + generator (before)": lambda: flatten_message(
            compat32_message(outgoing, sender)
        ),
        "EmailMessage + generator": lambda: flatten_message(full_message(outgoing, sender, None)),
        "wire (now)": lambda: wire_email(outgoing, sender, None).as_bytes(),
    }
    times: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(rounds):
        for name, write in ways.items():
            times[name].append(per_email(write, emails))
    size = len(ways["wire (now)"]())
    print(f"one invitation email ({size} bytes), {emails} emails x {rounds} rounds, in turns")
    print(f"{'way':32} {'us per email (median round)':>28}")
    medians = {name: statistics.median(samples) for name, samples in times.items()}
    for name, seconds in medians.items():
        print(f"{name:32} {seconds * 1e6:28.1f}")
    wire = medians["wire (now)"]
    for name, seconds in medians.items():
        if name != "wire (now)":
            print(f"{name} / wire = {seconds / wire:.1f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--emails", type=int, default=2000, help="emails per round")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of each way")
    args = parser.parse_args()
    main(args.emails, args.rounds)
