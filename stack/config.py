"""Where the local stack lives, its versions and ports (all overridable by environment)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parent.parent
KAFKA_VERSION = "4.1.1"
FERRETDB_VERSION = "v2.5.0"
# FerretDB v2.5.0 does not compile with Go 1.25+; `go` fetches this toolchain from the module proxy.
FERRETDB_GO_TOOLCHAIN = "go1.24.6"
DOCUMENTDB_VERSION = "0.106.0-ferretdb-2.5.0"
POSTGRES_MAJOR = 15
MAILPIT_VERSION = "v1.33.1"


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    try:
        return int(raw)
    except ValueError:
        raise SystemExit(f"{name}={raw!r} is not a port number") from None


def _default_vendor_dir() -> Path | None:
    """The offline mirror of source archives beside the clone, when there is one."""
    mirror = REPO.parent / "shared" / "vendor"
    return mirror if mirror.is_dir() else None


@dataclass(frozen=True)
class StackConfig:
    host: str
    kafka_port: int
    kafka_controller_port: int
    postgres_port: int
    mongo_port: int
    smtp_port: int
    mailpit_http_port: int
    data_dir: Path
    cache_dir: Path
    vendor_dir: Path | None
    kafka_tls: bool = False  # SASL_SSL with a self-signed certificate instead of SASL_PLAINTEXT

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.host}:{self.kafka_port}"

    @property
    def credentials_file(self) -> Path:
        return self.data_dir / "credentials.json"

    @property
    def mongodb_uri(self) -> str:
        """The application's MongoDB URI, with the credentials the stack created at first start."""
        from stack.credentials import load

        creds = load(self)
        user, password = quote(creds.mongo_user, safe=""), quote(creds.mongo_password, safe="")
        return f"mongodb://{user}:{password}@{self.host}:{self.mongo_port}/?authSource=admin"

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
    vendor = os.environ.get("STACK_VENDOR_DIR")
    return StackConfig(
        host="127.0.0.1",
        kafka_port=_port("STACK_KAFKA_PORT", 9092),
        kafka_controller_port=_port("STACK_KAFKA_CONTROLLER_PORT", 9093),
        postgres_port=_port("STACK_POSTGRES_PORT", 54320),
        mongo_port=_port("STACK_MONGO_PORT", 27017),
        smtp_port=_port("STACK_SMTP_PORT", 1025),
        mailpit_http_port=_port("STACK_MAILPIT_HTTP_PORT", 8025),
        data_dir=Path(os.environ.get("STACK_DATA_DIR", REPO / ".stack")),
        cache_dir=cache,
        vendor_dir=Path(vendor) if vendor else _default_vendor_dir(),
        kafka_tls=os.environ.get("STACK_KAFKA_TLS", "").lower() in ("1", "true", "yes"),
    )
