"""The gateway's settings, from environment variables (a bad value names the variable)."""

from __future__ import annotations

import secrets
import sys
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pro_team_client import ServiceUrls


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    # Signs the session cookie. Unset: a random one per start (every session ends on restart).
    session_secret: SecretStr = SecretStr("")
    # Send the cookie over HTTPS only: turn on wherever the gateway is served over TLS.
    secure_cookies: bool = False
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    invitations_url: str = "http://127.0.0.1:8101"
    membership_url: str = "http://127.0.0.1:8102"
    access_control_url: str = "http://127.0.0.1:8104"
    api_token: SecretStr = SecretStr("")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    # How long a page waits for a command's outcome before saying it is still on its way.
    outcome_timeout_seconds: float = Field(default=15.0, gt=0)

    @field_validator("invitations_url", "membership_url", "access_control_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL")
        return value.rstrip("/")

    @property
    def urls(self) -> ServiceUrls:
        return ServiceUrls(self.invitations_url, self.membership_url, self.access_control_url)

    def signing_key(self) -> str:
        return self.session_secret.get_secret_value() or secrets.token_urlsafe(32)


def load() -> GatewaySettings:
    try:
        return GatewaySettings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']).upper()}: {e['msg']}" for e in error.errors()
        )
        sys.exit(f"gateway: bad setting: {problems}")
