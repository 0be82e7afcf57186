"""Settings from environment variables; a bad value names the variable."""

from __future__ import annotations

import sys
from typing import Any, TypeVar

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.kafka_access import KafkaAccess, SaslMechanism, SecurityProtocol

S = TypeVar("S", bound="ServiceSettings")


class ServiceSettings(BaseSettings):
    """Settings every service reads. Subclasses add their own."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: SaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    kafka_ssl_cafile: str = ""
    mongodb_uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017/")
    mongodb_db: str = ""
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=0, ge=0, le=65535)
    api_token: SecretStr = SecretStr("")
    log_level: str = "INFO"
    kafka_group_id: str = ""
    outbox_sweep_seconds: float = Field(default=5.0, gt=0)
    retry_max_backoff_seconds: float = Field(default=30.0, gt=0)
    handler_max_attempts: int = Field(default=5, ge=1)

    def kafka_access(self) -> KafkaAccess:
        return KafkaAccess(
            self.kafka_bootstrap_servers,
            self.kafka_security_protocol,
            self.kafka_sasl_mechanism,
            self.kafka_sasl_username,
            self.kafka_sasl_password.get_secret_value(),
            self.kafka_ssl_cafile,
        )

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
            f"  {str(err['loc'][0]).upper()}: {err['msg']} (got {_shown(err)})"
            for err in exc.errors()
        ]
        sys.exit("invalid settings:\n" + "\n".join(lines))


def _shown(error: Any) -> str:
    """The rejected value, unless it may be a secret."""
    name = str(error["loc"][0]).lower()
    if any(word in name for word in ("password", "token", "uri")):
        return "a value that is not shown"
    return repr(error.get("input"))
