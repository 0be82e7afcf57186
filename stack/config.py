"""Where the local stack lives and which ports it uses (all overridable by environment)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
KAFKA_VERSION = "4.1.1"
FERRETDB_VERSION = "v1.24.2"
MAILPIT_VERSION = "v1.33.1"


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a port number") from None


@dataclass(frozen=True)
class StackConfig:
    host: str
    kafka_port: int
    kafka_controller_port: int
    mongo_port: int
    smtp_port: int
    mailpit_http_port: int
    data_dir: Path
    cache_dir: Path

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://{self.host}:{self.mongo_port}/"

    @property
    def mailpit_url(self) -> str:
        return f"http://{self.host}:{self.mailpit_http_port}"

    @property
    def kafka_libs(self) -> Path:
        return self.cache_dir / f"kafka-{KAFKA_VERSION}" / "libs"

    @property
    def bin_dir(self) -> Path:
        return self.cache_dir / "bin"

    def log_file(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{name}.log"

    def pid_file(self, name: str) -> Path:
        return self.data_dir / "run" / f"{name}.pid"

    def env(self) -> dict[str, str]:
        """The variables that point services and tests at this stack."""
        return {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            "MONGODB_URI": self.mongodb_uri,
            "SMTP_HOST": self.host,
            "SMTP_PORT": str(self.smtp_port),
            "MAILPIT_URL": self.mailpit_url,
        }


def load() -> StackConfig:
    cache = Path(os.environ.get("STACK_CACHE_DIR", Path.home() / ".cache" / "pro-team-stack"))
    return StackConfig(
        host="127.0.0.1",
        kafka_port=_port("STACK_KAFKA_PORT", 9092),
        kafka_controller_port=_port("STACK_KAFKA_CONTROLLER_PORT", 9093),
        mongo_port=_port("STACK_MONGO_PORT", 27017),
        smtp_port=_port("STACK_SMTP_PORT", 1025),
        mailpit_http_port=_port("STACK_MAILPIT_HTTP_PORT", 8025),
        data_dir=Path(os.environ.get("STACK_DATA_DIR", REPO / ".stack")),
        cache_dir=cache,
    )
