"""The stack's secrets: generated at first start, kept under the data folder with mode 0600."""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import asdict, dataclass

from stack.config import StackConfig

POSTGRES_ADMIN = "stack_admin"
MONGO_APP_USER = "pro_team"
KAFKA_ADMIN = "admin"
# The broker principals of the contract (contracts.topics.ACCESS) plus the stack's super user.
SERVICE_PRINCIPALS = ("invitations", "membership", "notifications", "access_control")
KAFKA_PRINCIPALS = (KAFKA_ADMIN, *SERVICE_PRINCIPALS, "gateway", "downstream")


@dataclass(frozen=True)
class Credentials:
    postgres_admin_password: str
    mongo_user: str
    mongo_password: str
    kafka: dict[str, str]  # principal -> SCRAM-SHA-512 password


class MissingCredentials(RuntimeError):
    pass


def exists(cfg: StackConfig) -> bool:
    return cfg.credentials_file.exists()


def load(cfg: StackConfig) -> Credentials:
    try:
        raw = json.loads(cfg.credentials_file.read_text())
    except FileNotFoundError:
        raise MissingCredentials(
            f"no stack credentials at {cfg.credentials_file}: start the stack first "
            "(make stack-up or python -m stack up)"
        ) from None
    try:
        return Credentials(**raw)
    except TypeError:
        raise MissingCredentials(
            f"{cfg.credentials_file} was written by an older stack: stop it and start afresh "
            "(python -m stack down && rm -rf the data folder && python -m stack up)"
        ) from None


def new_password() -> str:
    """192 random bits, URL-safe, starting with a letter (a leading "-" would be read as an
    option by the command-line tools that take it, e.g. keytool)."""
    return secrets.choice(string.ascii_letters) + secrets.token_urlsafe(24)


def create(cfg: StackConfig) -> Credentials:
    """New random passwords, written atomically and readable by this user only."""
    creds = Credentials(
        postgres_admin_password=new_password(),
        mongo_user=MONGO_APP_USER,
        mongo_password=new_password(),
        kafka={name: new_password() for name in KAFKA_PRINCIPALS},
    )
    write_private(cfg.credentials_file, json.dumps(asdict(creds), indent=2))
    return creds


def write_private(path: os.PathLike[str], text: str) -> None:
    """Create or replace a file that only its owner can read (0600 from the first byte)."""
    tmp = f"{os.fspath(path)}.tmp"
    os.makedirs(os.path.dirname(tmp) or ".", exist_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(tmp, path)
