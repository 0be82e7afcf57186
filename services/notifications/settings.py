"""Settings of the notifications service (environment variables)."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from services.runtime.settings import ServiceSettings, load_settings


class NotificationsSettings(ServiceSettings):
    http_port: int = 8103
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    # SMTP connections kept open and reused; also how many emails are sent at once.
    smtp_max_connections: int = Field(default=4, ge=1, le=100)
    accept_url_base: str = "http://127.0.0.1:8080"  # an absolute http(s) URL
    mail_from: str = "Pro Team <no-reply@example.test>"
    mail_reply_to: str = ""
    product_name: str = "Pro Team"
    smtp_max_attempts: int = Field(default=20, ge=1)
    smtp_retry_base_seconds: float = Field(default=1.0, gt=0)
    smtp_retry_max_backoff_seconds: float = Field(default=60.0, gt=0)
    delivery_retry_poll_seconds: float = Field(default=1.0, gt=0)
    send_welcome_email: bool = True

    @field_validator("accept_url_base")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL, e.g. https://app.example.com")
        return value.rstrip("/")

    @property
    def message_id_domain(self) -> str:
        return self.mail_from.rpartition("@")[2].strip(" >") or "notifications.invalid"


def load() -> NotificationsSettings:
    return load_settings(NotificationsSettings)
