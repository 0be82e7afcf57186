"""Settings from environment variables; a bad value names the variable."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.concurrency import Concurrency
from services.runtime.kafka_access import KafkaAccess, SaslMechanism, SecurityProtocol

S = TypeVar("S", bound="ServiceSettings")
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


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
    log_level: LogLevel = "INFO"
    # Test-only switches (fault injection) are refused unless this is on.
    test_mode: bool = False
    kafka_group_id: str = ""
    outbox_sweep_seconds: float = Field(default=5.0, gt=0)
    outbox_full_sweep_seconds: float = Field(default=300.0, gt=0)
    # How long a published outbox's clear (and access_control's history record) may wait to go
    # with those of the handlers answered meanwhile, in one request per collection; 0: at once.
    # Concurrent handlers' clears are merged anyway (coalesce.py); holding them showed no gain
    # in a burst, so only access_control, one change at a time, holds them by default.
    outbox_batch_ms: int = Field(default=0, ge=0, le=1000)
    retry_max_backoff_seconds: float = Field(default=30.0, gt=0)
    handler_max_attempts: int = Field(default=5, ge=1)
    # The producer's wait to fill a batch: 0 answers one command sooner (access_control: a
    # client change 9.5 -> 7.1 ms; its default), 2 leaves more CPU to a loaded pipeline.
    kafka_linger_ms: int = Field(default=2, ge=0, le=1000)
    # Per subscriber: records held at once (waiting or running; a fetch takes up to half),
    # and accounts handled concurrently.
    consumer_max_in_flight: int = Field(default=500, ge=1, le=10_000)
    consumer_max_accounts: int = Field(default=64, ge=1, le=1_000)
    # How long the next fetch waits for the records in hand to finish (what arrives meanwhile
    # is then started together: fewer, bigger database requests); a slow account holds up the
    # others' next records for at most this long.
    consumer_fetch_hold_ms: int = Field(default=250, ge=0, le=60_000)
    # The least time between two offset commits of a subscriber. A commit costs about 1.4 ms
    # of CPU (broker and client); every 100 ms that was about a commit per invitation under
    # load. A crash reads again what finished since the last commit (handlers are idempotent).
    consumer_commit_every_ms: int = Field(default=1000, ge=0, le=60_000)

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_in_capitals(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    def kafka_access(self) -> KafkaAccess:
        return KafkaAccess(
            self.kafka_bootstrap_servers,
            self.kafka_security_protocol,
            self.kafka_sasl_mechanism,
            self.kafka_sasl_username,
            self.kafka_sasl_password.get_secret_value(),
            self.kafka_ssl_cafile,
        )

    def concurrency(self) -> Concurrency:
        return Concurrency(
            self.consumer_max_in_flight,
            self.consumer_max_accounts,
            self.consumer_fetch_hold_ms,
            self.consumer_commit_every_ms,
        )

    def database_name(self, service: str) -> str:
        return self.mongodb_db or service

    def group_id(self, service: str) -> str:
        return self.kafka_group_id or service


def env_names(settings_class: type[ServiceSettings]) -> set[str]:
    """The environment variable names a settings class reads."""
    return {name.upper() for name in settings_class.model_fields}


def load_settings(settings_class: type[S]) -> S:
    """Read the environment; exit with one line per bad variable, naming it and what it takes.
    With `-h`/`--help` on the command line: say which variables there are, and exit."""
    if {"-h", "--help"} & set(sys.argv[1:]):
        print(usage(settings_class))
        sys.exit(0)
    try:
        return settings_class()
    except ValidationError as exc:
        sys.exit("invalid settings:\n" + "\n".join(f"  {describe(err)}" for err in exc.errors()))


def usage(settings_class: type[ServiceSettings]) -> str:
    lines = [
        f"usage: {Path(sys.argv[0]).name}",
        "",
        "Runs the service until SIGTERM. Settings come from the environment only:",
    ]
    for name, field in sorted(settings_class.model_fields.items()):
        default = "(secret)" if "secret" in str(field.annotation).lower() else repr(field.default)
        lines.append(f"  {name.upper():34} default {default}")
    return "\n".join(lines)


def describe(error: Any) -> str:
    """`NAME: what is wrong (got value)`; the value is left out where it may be a secret, and for
    checks across settings (their message names the variables)."""
    message = str(error["msg"]).removeprefix("Value error, ")
    if not error["loc"]:
        return message
    name = str(error["loc"][0])
    if any(word in name for word in ("password", "token", "uri")):
        return f"{name.upper()}: {message} (got a value that is not shown)"
    return f"{name.upper()}: {message} (got {error.get('input')!r})"
