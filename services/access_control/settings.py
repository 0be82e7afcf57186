"""Settings of the access_control service (environment variables)."""

from __future__ import annotations

from pydantic import Field

from services.runtime.settings import ServiceSettings, load_settings


class AccessControlSettings(ServiceSettings):
    http_port: int = 8104
    projection_grace_seconds: float = Field(default=5.0, ge=0)
    # Its publishes follow an administrator's action or a member's arrival, one at a time:
    # nothing fills a batch, and the 2 ms wait was a sixth of a client change (8.4 -> 7.0 ms).
    kafka_linger_ms: int = Field(default=0, ge=0, le=1000)
    # Each change also writes a history record and a clear; sent right after its answer they
    # compete with the next change's own write (a client change p50 4.8-6.8 -> 2.8-6.5 ms).
    outbox_batch_ms: int = Field(default=20, ge=0, le=1000)


def load() -> AccessControlSettings:
    return load_settings(AccessControlSettings)
