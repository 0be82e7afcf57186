"""Settings of the membership service (environment variables)."""

from __future__ import annotations

from services.runtime.settings import ServiceSettings, load_settings


class MembershipSettings(ServiceSettings):
    http_port: int = 8102


def load() -> MembershipSettings:
    return load_settings(MembershipSettings)
