"""Settings of the access_control service (environment variables)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServiceSettings, load_settings


class AccessControlSettings(ServiceSettings):
    http_port: int = 8104
    projection_grace_seconds: float = Field(default=5.0, ge=0)


def load() -> AccessControlSettings:
    return load_settings(AccessControlSettings)
