"""Rendering (Jinja2) and sending (aiosmtplib): the notifications service's edges."""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.notifications.domain import header_safe
from services.notifications.settings import NotificationsSettings

TEMPLATES = Path(__file__).parent / "templates"


class Renderer:
    def __init__(self) -> None:
        loader = FileSystemLoader(TEMPLATES)
        self.html = Environment(
            loader=loader,
            autoescape=select_autoescape(["html", "html.j2"], default=True),
            enable_async=True,
            undefined=StrictUndefined,
        )
        self.text = Environment(
            loader=loader,
            autoescape=False,  # noqa: S701 - the plain-text part: nothing is HTML there
            enable_async=True,
            undefined=StrictUndefined,
        )

    async def render(self, template: str, email: Any) -> tuple[str, str]:
        html = await self.html.get_template(f"{template}.html.j2").render_async(email=email)
        text = await self.text.get_template(f"{template}.txt.j2").render_async(email=email)
        return html, text


@dataclass(frozen=True)
class Outgoing:
    to: str
    to_name: str
    subject: str
    html: str
    text: str
    message_id: str


def build_message(outgoing: Outgoing, settings: NotificationsSettings) -> EmailMessage:
    """Multipart/alternative: plain text first, HTML second. Header values are single-line."""
    message = EmailMessage()
    from_name, from_address = parseaddr(settings.mail_from)
    message["From"] = Address(header_safe(from_name), addr_spec=from_address)
    local, _, domain = outgoing.to.rpartition("@")
    message["To"] = Address(header_safe(outgoing.to_name), username=local, domain=domain)
    if settings.mail_reply_to:
        reply_name, reply_address = parseaddr(settings.mail_reply_to)
        message["Reply-To"] = Address(header_safe(reply_name), addr_spec=reply_address)
    message["Subject"] = header_safe(outgoing.subject, 250)
    message["Message-ID"] = outgoing.message_id
    message["Date"] = formatdate(usegmt=True)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(outgoing.text)
    message.add_alternative(outgoing.html, subtype="html")
    return message


class SendFailure(Exception):
    def __init__(self, error: str, permanent: bool) -> None:
        super().__init__(error)
        self.error = error
        self.permanent = permanent


class Sender(Protocol):
    async def send(self, message: EmailMessage) -> None:
        """Raises SendFailure when the message did not leave."""
        ...


class Mailer:
    def __init__(self, settings: NotificationsSettings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> None:
        """Raises SendFailure: permanent for a 5xx, transient for 4xx, refusals and timeouts."""
        s = self.settings
        try:
            await aiosmtplib.send(
                message,
                hostname=s.smtp_host,
                port=s.smtp_port,
                use_tls=s.smtp_tls,
                start_tls=True if s.smtp_starttls else None,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                timeout=s.smtp_timeout_seconds,
            )
        except aiosmtplib.SMTPAuthenticationError as exc:
            # our credentials, not this message: retry until an operator fixes the setting
            raise SendFailure(f"SMTP authentication failed: {exc.code}", permanent=False) from exc
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients)
            raise SendFailure(f"recipient refused: {detail}", all(c >= 500 for c in codes)) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise SendFailure(f"SMTP {exc.code}: {exc.message}", exc.code >= 500) from exc
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendFailure(f"SMTP unavailable: {exc}", permanent=False) from exc
