"""Settings of the access_control service (environment variables)."""

from __future__ import annotations

from services.runtime.settings import ServiceSettings, load_settings


class AccessControlSettings(ServiceSettings):
    http_port: int = 8104


def load() -> AccessControlSettings:
    return load_settings(AccessControlSettings)
