"""Settings from environment variables; a bad value names the variable."""

from __future__ import annotations

import sys
from typing import TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound="ServiceSettings")


class ServiceSettings(BaseSettings):
    """Settings every service reads. Subclasses add their own."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongodb_uri: str = "mongodb://127.0.0.1:27017/"
    mongodb_db: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=0, ge=0, le=65535)
    api_token: str = ""
    log_level: str = "INFO"
    kafka_group_id: str = ""
    outbox_sweep_seconds: float = Field(default=5.0, gt=0)
    retry_max_backoff_seconds: float = Field(default=30.0, gt=0)
    handler_max_attempts: int = Field(default=5, ge=1)

    def database_name(self, service: str) -> str:
        return self.mongodb_db or service

    def group_id(self, service: str) -> str:
        return self.kafka_group_id or service


def env_names(settings_class: type[ServiceSettings]) -> set[str]:
    """The environment variable names a settings class reads."""
    return {name.upper() for name in settings_class.model_fields}


def load_settings(settings_class: type[S]) -> S:
    """Read the environment; exit with a message naming each bad variable."""
    try:
        return settings_class()
    except ValidationError as exc:
        lines = [
            f"  {str(err['loc'][0]).upper()}: {err['msg']} (got {err.get('input')!r})"
            for err in exc.errors()
        ]
        sys.exit("invalid settings:\n" + "\n".join(lines))
