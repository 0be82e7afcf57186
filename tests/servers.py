"""Which real servers the tests run against: named by the environment, the local stack, or
containers started with testcontainers where a Docker engine answers. Nothing else."""

from __future__ import annotations

import json
import os
import socket
import urllib.request
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from services.runtime.kafka_access import KafkaAccess
from tests.processes import free_port

NO_SERVERS = (
    "No Kafka/MongoDB/SMTP servers to test against. Either\n"
    "  1. start the local stack (no Docker needed):\n"
    "       make stack-up && eval $(.venv/bin/python -m stack env)\n"
    "     -- or run everything with:  make test\n"
    "  2. or run where a Docker engine answers: the tests then start apache/kafka,\n"
    "     mongo:8.0.12 and axllent/mailpit containers through testcontainers.\n"
    "Explicit servers: set KAFKA_BOOTSTRAP_SERVERS, MONGODB_URI, SMTP_HOST, SMTP_PORT, MAILPIT_URL."
)
ENV_NAMES = ("KAFKA_BOOTSTRAP_SERVERS", "MONGODB_URI", "SMTP_HOST", "SMTP_PORT", "MAILPIT_URL")
# KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* are read too where the broker wants them.


@dataclass
class Servers:
    kafka: KafkaAccess  # the tests' own access: a super user where the broker has ACLs
    mongodb_uri: str
    smtp_host: str
    smtp_port: int
    mailpit_url: str
    origin: str
    kafka_label: str = "Apache Kafka"
    storage_label: str = ""
    cleanup: ExitStack = field(default_factory=ExitStack)
    # principal -> password, where the broker enforces ACLs (the local stack)
    principals: dict[str, str] = field(default_factory=dict)

    @property
    def kafka_bootstrap(self) -> str:
        return self.kafka.bootstrap_servers

    def as_principal(self, name: str) -> KafkaAccess:
        """The broker access of one principal (the tests' own where ACLs are not enforced)."""
        if not self.principals:
            return self.kafka
        return self.kafka.as_principal(name, self.principals[name])

    def env(self) -> dict[str, str]:
        return {
            **self.kafka.env(),
            "MONGODB_URI": self.mongodb_uri,
            "SMTP_HOST": self.smtp_host,
            "SMTP_PORT": str(self.smtp_port),
            "MAILPIT_URL": self.mailpit_url,
        }

    def versions(self) -> str:
        from pymongo import MongoClient

        client: MongoClient[dict[str, Any]]
        with MongoClient(self.mongodb_uri, serverSelectionTimeoutMS=3000) as client:
            info = client.admin.command("buildInfo")
        mongo = f"MongoDB {info['version']}"
        if "ferretdb" in info:
            storage = f" / {self.storage_label}" if self.storage_label else ""
            version = info["ferretdb"]["version"]
            mongo = f"FerretDB {version}{storage} (MongoDB wire {info['version']})"
        with urllib.request.urlopen(f"{self.mailpit_url}/api/v1/info", timeout=3) as response:
            mailpit = f"Mailpit {json.load(response).get('Version')}"
        return f"{self.kafka_label}; {mongo}; {mailpit}"


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def from_environment() -> Servers | None:
    present = [name for name in ENV_NAMES if os.environ.get(name)]
    if not present:
        return None
    missing = sorted(set(ENV_NAMES) - set(present))
    if missing:
        raise RuntimeError(f"set all of {', '.join(ENV_NAMES)}; missing: {', '.join(missing)}")
    return Servers(
        kafka=KafkaAccess.from_env(),
        mongodb_uri=os.environ["MONGODB_URI"],
        smtp_host=os.environ["SMTP_HOST"],
        smtp_port=int(os.environ["SMTP_PORT"]),
        mailpit_url=os.environ["MAILPIT_URL"].rstrip("/"),
        origin="environment",
        kafka_label=os.environ.get("STACK_KAFKA_VERSION", "Apache Kafka"),
        storage_label=os.environ.get("STACK_STORAGE_VERSION", ""),
        principals=_principals_from_stack(),
    )


def _principals_from_stack() -> dict[str, str]:
    """The local stack's broker principals, when the environment points at that stack."""
    from stack import config, credentials

    cfg = config.load()
    if not credentials.exists(cfg):
        return {}
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") != cfg.kafka_bootstrap:
        return {}
    return dict(credentials.load(cfg).kafka)


def from_local_stack() -> Servers | None:
    from stack import config, credentials
    from stack.servers import kafka_access, storage_label

    cfg = config.load()
    ports = [cfg.kafka_port, cfg.mongo_port, cfg.smtp_port, cfg.mailpit_http_port]
    if not all(_answers(cfg.host, port) for port in ports):
        return None
    if not credentials.exists(cfg):
        raise RuntimeError(
            f"servers answer on the local stack's ports but {cfg.credentials_file} is missing: "
            "set STACK_DATA_DIR to the data folder of the stack that runs, or restart it"
        )
    return Servers(
        kafka_access(cfg),
        cfg.mongodb_uri,
        cfg.host,
        cfg.smtp_port,
        cfg.mailpit_url,
        origin="local stack",
        kafka_label=f"Apache Kafka {config.KAFKA_VERSION} (KRaft, local stack)",
        storage_label=storage_label(cfg),
        principals=dict(credentials.load(cfg).kafka),
    )


def from_docker() -> Servers | None:
    try:
        import docker  # type: ignore[import-untyped]

        docker.from_env().ping()
    except Exception:
        return None
    from testcontainers.community.mongodb import MongoDbContainer
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs

    stack = ExitStack()
    kafka_port = free_port()
    # apache/kafka runs single-node KRaft by default; advertise the fixed host port we bind.
    kafka = stack.enter_context(
        DockerContainer("apache/kafka:4.1.1")
        .with_bind_ports(9092, kafka_port)
        .with_env("KAFKA_NODE_ID", "1")
        .with_env("KAFKA_PROCESS_ROLES", "broker,controller")
        .with_env("KAFKA_LISTENERS", "PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093")
        .with_env("KAFKA_ADVERTISED_LISTENERS", f"PLAINTEXT://127.0.0.1:{kafka_port}")
        .with_env("KAFKA_CONTROLLER_LISTENER_NAMES", "CONTROLLER")
        .with_env(
            "KAFKA_LISTENER_SECURITY_PROTOCOL_MAP", "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        )
        .with_env("KAFKA_CONTROLLER_QUORUM_VOTERS", "1@localhost:9093")
        .with_env("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "1")
        .with_env("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "1")
        .with_env("KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS", "0")
        .with_env("KAFKA_MESSAGE_MAX_BYTES", "2097152")
    )
    wait_for_logs(kafka, "Kafka Server started", timeout=120)
    mongo = stack.enter_context(MongoDbContainer("mongo:8.0.12"))
    mailpit = stack.enter_context(
        DockerContainer("axllent/mailpit:v1.33.1").with_exposed_ports(1025, 8025)
    )
    wait_for_logs(mailpit, "accessible via", timeout=60)
    bootstrap = f"127.0.0.1:{kafka_port}"
    _create_topics(bootstrap)
    host = mailpit.get_container_host_ip()
    servers = Servers(
        KafkaAccess(bootstrap),
        mongo.get_connection_url(),
        host,
        int(mailpit.get_exposed_port(1025)),
        f"http://{host}:{mailpit.get_exposed_port(8025)}",
        origin="testcontainers",
        kafka_label="Apache Kafka 4.1.1 (apache/kafka container)",
    )
    servers.cleanup = stack
    return servers


def _create_topics(bootstrap: str) -> None:
    from stack.topics import create_all

    create_all(KafkaAccess(bootstrap))


def resolve() -> Servers:
    for source in (from_environment, from_local_stack, from_docker):
        found = source()
        if found is not None:
            return found
    raise LookupError(NO_SERVERS)
