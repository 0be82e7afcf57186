"""Start, probe and stop the servers of the local stack as plain processes."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from services.runtime.kafka_access import KafkaAccess, SecurityProtocol
from stack import credentials, kafka_security, postgres, provision
from stack.config import KAFKA_VERSION, REPO, StackConfig
from stack.credentials import POSTGRES_ADMIN

KAFKA_MECHANISM = kafka_security.MECHANISM


def _nothing(cfg: StackConfig) -> None:
    return None


def _no_env(cfg: StackConfig) -> dict[str, str]:
    return {}


@dataclass(frozen=True)
class Server:
    name: str
    ports: Callable[[StackConfig], list[int]]
    command: Callable[[StackConfig], list[str]]
    probe: Callable[[StackConfig], str]  # returns a short description, raises when not ready
    prepare: Callable[[StackConfig], None] = _nothing
    on_ready: Callable[[StackConfig], None] = _nothing  # idempotent set-up once it answers
    environ: Callable[[StackConfig], dict[str, str]] = _no_env
    requires: str | None = None  # a server that must be ready before this one starts
    stop_signal: int = signal.SIGTERM


# ---- Kafka ---------------------------------------------------------------------------------


def _kafka_dir(cfg: StackConfig) -> Path:
    return cfg.data_dir / "kafka"


def _kafka_properties(cfg: StackConfig) -> Path:
    """The broker's configuration: SASL on every listener, ACLs enforced, admin the only super
    user. Clients use SCRAM-SHA-512 (credentials in the metadata log, added at format time); the
    controller listener uses PLAIN with the admin alone (SCRAM needs the log it serves)."""
    path = _kafka_dir(cfg) / "server.properties"
    path.parent.mkdir(parents=True, exist_ok=True)
    host, port, cport = cfg.host, cfg.kafka_port, cfg.kafka_controller_port
    admin = credentials.KAFKA_ADMIN
    secret = credentials.load(cfg).kafka[admin]
    plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
    proto = _client_protocol(cfg)
    tls = [
        "ssl.keystore.type=PKCS12",
        f"ssl.keystore.location={_keystore(cfg)}",
        f"ssl.keystore.password={secret}",
        "ssl.truststore.type=PKCS12",
        f"ssl.truststore.location={_keystore(cfg)}",
        f"ssl.truststore.password={secret}",
    ]
    credentials.write_private(
        path,
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{host}:{cport}",
                f"listeners={proto}://{host}:{port},CONTROLLER://{host}:{cport}",
                f"advertised.listeners={proto}://{host}:{port}",
                "controller.listener.names=CONTROLLER",
                f"listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,{proto}:{proto}",
                f"inter.broker.listener.name={proto}",
                *(tls if cfg.kafka_tls else []),
                f"sasl.enabled.mechanisms={KAFKA_MECHANISM}",
                f"sasl.mechanism.inter.broker.protocol={KAFKA_MECHANISM}",
                "sasl.mechanism.controller.protocol=PLAIN",
                "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
                f"listener.name.controller.plain.sasl.jaas.config={plain} required "
                f'username="{admin}" password="{secret}" user_{admin}="{secret}";',
                f"listener.name.{proto.lower()}.sasl.enabled.mechanisms={KAFKA_MECHANISM}",
                f"listener.name.{proto.lower()}.scram-sha-512.sasl.jaas.config={scram} required "
                f'username="{admin}" password="{secret}";',
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                f"super.users=User:{admin}",
                "allow.everyone.if.no.acl.found=false",
                f"log.dirs={_kafka_dir(cfg) / 'data'}",
                "num.partitions=6",
                "offsets.topic.replication.factor=1",
                "offsets.topic.num.partitions=6",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "auto.create.topics.enable=false",
                "message.max.bytes=2097152",
                "",
            ]
        ),
    )
    return path


def _client_protocol(cfg: StackConfig) -> SecurityProtocol:
    return "SASL_SSL" if cfg.kafka_tls else "SASL_PLAINTEXT"


def _keystore(cfg: StackConfig) -> Path:
    return _kafka_dir(cfg) / "tls" / "broker.p12"


def ca_file(cfg: StackConfig) -> Path:
    """The broker's self-signed certificate (PEM): what TLS clients of the stack trust."""
    return _kafka_dir(cfg) / "tls" / "ca.pem"


def _make_certificate(cfg: StackConfig) -> None:
    """A self-signed certificate for 127.0.0.1, made with the JDK's keytool (STACK_KAFKA_TLS)."""
    if _keystore(cfg).exists() and ca_file(cfg).exists():
        return
    _keystore(cfg).parent.mkdir(parents=True, exist_ok=True)
    secret = credentials.load(cfg).kafka[credentials.KAFKA_ADMIN]
    store = ["-keystore", str(_keystore(cfg)), "-storetype", "PKCS12", "-storepass", secret]
    key = ["-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-validity", "3650"]
    subject = ["-dname", f"CN={cfg.host}", "-ext", f"SAN=ip:{cfg.host}", "-keypass", secret]
    for args in (
        ["-genkeypair", *key, *subject, *store],
        ["-exportcert", "-rfc", "-alias", "broker", "-file", str(ca_file(cfg)), *store],
    ):
        result = subprocess.run(["keytool", *args], capture_output=True, text=True)
        if result.returncode != 0:
            raise StackError(f"kafka: keytool {args[0]} failed: {result.stdout}{result.stderr}")
    _keystore(cfg).chmod(0o600)


def _kafka_java(cfg: StackConfig, main: str, *args: str) -> list[str]:
    return [
        "java",
        "-Xms256m",
        "-Xmx768m",
        "-XX:+UseG1GC",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={REPO / 'stack' / 'log4j2.properties'}",
        "-cp",
        f"{provision.kafka(cfg)}/*",
        main,
        *args,
    ]


def _kafka_prepare(cfg: StackConfig) -> None:
    _ensure_credentials(cfg)
    if cfg.kafka_tls:
        _make_certificate(cfg)
    props = _kafka_properties(cfg)
    if (_kafka_dir(cfg) / "data" / "meta.properties").exists():
        return
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    scram_users = [
        arg
        for name, password in credentials.load(cfg).kafka.items()
        for arg in ("--add-scram", f"{KAFKA_MECHANISM}=[name={name},password={password}]")
    ]
    # "=" form: a random id may start with "-", which the tool would take for an option
    format_args = ["format", f"--cluster-id={cluster_id}", "-c", str(props), *scram_users]
    result = subprocess.run(
        _kafka_java(cfg, "kafka.tools.StorageTool", *format_args), capture_output=True, text=True
    )
    if result.returncode != 0:
        raise StackError(f"kafka: formatting its storage failed:\n{result.stdout}{result.stderr}")


def _kafka_command(cfg: StackConfig) -> list[str]:
    return _kafka_java(cfg, "kafka.Kafka", str(_kafka_properties(cfg)))


def kafka_access(cfg: StackConfig, principal: str = credentials.KAFKA_ADMIN) -> KafkaAccess:
    """How `principal` reaches the stack's broker."""
    return KafkaAccess(
        bootstrap_servers=cfg.kafka_bootstrap,
        security_protocol=_client_protocol(cfg),
        sasl_mechanism=KAFKA_MECHANISM,
        sasl_username=principal,
        sasl_password=credentials.load(cfg).kafka[principal],
        ssl_cafile=str(ca_file(cfg)) if cfg.kafka_tls else "",
    )


def _kafka_probe(cfg: StackConfig) -> str:
    import logging

    from aiokafka.admin import AIOKafkaAdminClient

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # "not up yet" is expected here

    async def metadata() -> int:
        admin = AIOKafkaAdminClient(**kafka_access(cfg).aiokafka(), request_timeout_ms=3000)
        await admin.start()
        try:
            return len(await admin.list_topics())
        finally:
            await admin.close()

    topics = asyncio.run(asyncio.wait_for(metadata(), 8))
    return (
        f"Apache Kafka {KAFKA_VERSION} (KRaft) on {cfg.kafka_bootstrap}, "
        f"{_client_protocol(cfg)} {KAFKA_MECHANISM} "
        f"+ ACLs, {topics} topics"
    )


def _kafka_ready(cfg: StackConfig) -> None:
    """Every principal's ACLs exist (idempotent); `stack up` then creates the topics."""
    kafka_security.apply_sync(kafka_access(cfg))


# ---- PostgreSQL + DocumentDB ----------------------------------------------------------------


def _ensure_credentials(cfg: StackConfig) -> None:
    """A data folder without credentials gets new ones, and loses the servers' data that the
    old ones guarded (a broker and a cluster nobody could log in to any more)."""
    if credentials.exists(cfg):
        return
    shutil.rmtree(_kafka_dir(cfg) / "data", ignore_errors=True)
    shutil.rmtree(postgres.cluster_dir(cfg), ignore_errors=True)
    credentials.create(cfg)


def _postgres_prepare(cfg: StackConfig) -> None:
    _ensure_credentials(cfg)
    if not (postgres.cluster_dir(cfg) / "data" / "PG_VERSION").exists():
        postgres.init_cluster(cfg, credentials.load(cfg).postgres_admin_password)


def _postgres_probe(cfg: StackConfig) -> str:
    version = postgres.psql(cfg, "SHOW server_version").split()[0]
    return f"PostgreSQL {version} on {cfg.host}:{cfg.postgres_port}"


def _postgres_ready(cfg: StackConfig) -> None:
    postgres.psql(cfg, "CREATE EXTENSION IF NOT EXISTS documentdb CASCADE")


def _documentdb_version(cfg: StackConfig) -> str:
    return postgres.psql(cfg, "SELECT extversion FROM pg_extension WHERE extname = 'documentdb'")


# ---- FerretDB ------------------------------------------------------------------------------


def _ferretdb_env(cfg: StackConfig) -> dict[str, str]:
    """The PostgreSQL URL goes in a 0600 file, not on the command line where `ps` shows it."""
    creds = credentials.load(cfg)
    url_file = cfg.data_dir / "ferretdb" / "postgresql-url"
    password = quote(creds.postgres_admin_password, safe="")
    url = f"postgres://{POSTGRES_ADMIN}:{password}@{cfg.host}:{cfg.postgres_port}/postgres"
    credentials.write_private(url_file, url)
    return {"FERRETDB_POSTGRESQL_URL_FILE": str(url_file)}


def _ferretdb_command(cfg: StackConfig) -> list[str]:
    data = cfg.data_dir / "ferretdb"
    data.mkdir(parents=True, exist_ok=True)
    return [
        str(provision.ferretdb(cfg)),
        f"--listen-addr={cfg.host}:{cfg.mongo_port}",
        "--debug-addr=-",
        "--telemetry=disable",
        f"--state-dir={data}",
        "--log-level=WARN",
    ]


def _admin_mongo_uri(cfg: StackConfig) -> str:
    password = quote(credentials.load(cfg).postgres_admin_password, safe="")
    return f"mongodb://{POSTGRES_ADMIN}:{password}@{cfg.host}:{cfg.mongo_port}/?authSource=admin"


def storage_label(cfg: StackConfig) -> str:
    """`DocumentDB 0.106 / PostgreSQL 15.x` of the running stack ("" when it does not answer)."""
    try:
        docdb = ".".join(_documentdb_version(cfg).replace("-", ".").split(".")[:2])
        pg = _postgres_probe(cfg).split()[1]
    except postgres.PostgresError:
        return ""
    return f"DocumentDB {docdb} / PostgreSQL {pg}"


def _ferretdb_probe(cfg: StackConfig) -> str:
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]]
    with MongoClient(_admin_mongo_uri(cfg), serverSelectionTimeoutMS=3000) as client:
        info = client.admin.command("buildInfo")
    ferretdb = info.get("ferretdb", {}).get("version", "?")
    return (
        f"FerretDB {ferretdb} / {storage_label(cfg)} (MongoDB wire {info['version']}) "
        f"on {cfg.host}:{cfg.mongo_port}, authentication on"
    )


def _ferretdb_ready(cfg: StackConfig) -> None:
    """The application's user (not the stack's admin) exists with the password on file."""
    from pymongo import MongoClient

    creds = credentials.load(cfg)
    client: MongoClient[dict[str, Any]]
    with MongoClient(_admin_mongo_uri(cfg), serverSelectionTimeoutMS=5000) as client:
        users = client.admin.command("usersInfo", creds.mongo_user).get("users")
        if not users:
            client.admin.command(
                "createUser", creds.mongo_user, pwd=creds.mongo_password, roles=["readWrite"]
            )


# ---- Mailpit -------------------------------------------------------------------------------


def _mailpit_command(cfg: StackConfig) -> list[str]:
    data = cfg.data_dir / "mailpit"
    data.mkdir(parents=True, exist_ok=True)
    extra = os.environ.get("STACK_MAILPIT_ARGS", "").split()
    return [
        str(provision.mailpit(cfg)),
        f"--smtp={cfg.host}:{cfg.smtp_port}",
        f"--listen={cfg.host}:{cfg.mailpit_http_port}",
        f"--database={data / 'mailpit.db'}",
        "--disable-version-check",
        "--smtp-auth-accept-any",
        "--smtp-auth-allow-insecure",
        "--smtp-disable-rdns",
        "--max=100000",
        *extra,
    ]


def _mailpit_probe(cfg: StackConfig) -> str:
    with socket.create_connection((cfg.host, cfg.smtp_port), timeout=3) as conn:
        banner = conn.recv(512).decode(errors="replace")
    if not banner.startswith("220"):
        raise ConnectionError(f"unexpected SMTP banner {banner!r}")
    info_url = f"{cfg.mailpit_url}/api/v1/info"  # always http://127.0.0.1:<port>
    with urllib.request.urlopen(info_url, timeout=3) as response:  # noqa: S310
        version = json.load(response).get("Version", "?")
    return f"Mailpit {version}: SMTP {cfg.host}:{cfg.smtp_port}, web/API {cfg.mailpit_url}"


SERVERS: dict[str, Server] = {
    "kafka": Server(
        "kafka",
        lambda c: [c.kafka_port, c.kafka_controller_port],
        _kafka_command,
        _kafka_probe,
        _kafka_prepare,
        on_ready=_kafka_ready,
    ),
    # PostgreSQL's SIGTERM waits for clients to leave; SIGINT is its "fast" clean shutdown.
    "postgres": Server(
        "postgres",
        lambda c: [c.postgres_port],
        postgres.server_command,
        _postgres_probe,
        _postgres_prepare,
        on_ready=_postgres_ready,
        stop_signal=signal.SIGINT,
    ),
    "ferretdb": Server(
        "ferretdb",
        lambda c: [c.mongo_port],
        _ferretdb_command,
        _ferretdb_probe,
        on_ready=_ferretdb_ready,
        environ=_ferretdb_env,
        requires="postgres",
    ),
    "mailpit": Server(
        "mailpit", lambda c: [c.smtp_port, c.mailpit_http_port], _mailpit_command, _mailpit_probe
    ),
}


# ---- process management --------------------------------------------------------------------


def running_pid(cfg: StackConfig, name: str) -> int | None:
    try:
        pid = int(cfg.pid_file(name).read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    try:
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return None
    except OSError:
        return None
    return pid


def _port_taken(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def log_tail(cfg: StackConfig, name: str, lines: int = 30) -> str:
    path = cfg.log_file(name)
    if not path.exists():
        return "(no log file)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


class StackError(RuntimeError):
    pass


READY_TIMEOUT = 120.0


def start(cfg: StackConfig, name: str) -> None:
    server = SERVERS[name]
    if running_pid(cfg, name):
        return
    if server.requires is not None:
        start(cfg, server.requires)
        wait_ready(cfg, server.requires, READY_TIMEOUT)
    for port in server.ports(cfg):
        if _port_taken(cfg.host, port):
            raise StackError(
                f"{name}: port {port} on {cfg.host} is taken by another process; stop it or "
                "choose other ports (STACK_*_PORT settings, see README)"
            )
    server.prepare(cfg)
    cfg.log_file(name).parent.mkdir(parents=True, exist_ok=True)
    cfg.pid_file(name).parent.mkdir(parents=True, exist_ok=True)
    with cfg.log_file(name).open("ab") as log:
        process = subprocess.Popen(
            server.command(cfg),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=cfg.data_dir,
            env={**os.environ, **server.environ(cfg)},
        )
    cfg.pid_file(name).write_text(str(process.pid))


def wait_ready(cfg: StackConfig, name: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if running_pid(cfg, name) is None:
            raise StackError(
                f"{name} exited during start-up. Last log lines:\n{log_tail(cfg, name)}"
            )
        try:
            description = SERVERS[name].probe(cfg)
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last_error = exc
            time.sleep(0.5)
            continue
        SERVERS[name].on_ready(cfg)
        return description
    raise StackError(
        f"{name} did not answer within {timeout:.0f}s ({last_error!r}). "
        f"Last log lines of {cfg.log_file(name)}:\n{log_tail(cfg, name)}"
    )


def stop(cfg: StackConfig, name: str, sig: int | None = None, timeout: float = 30) -> bool:
    sig = SERVERS[name].stop_signal if sig is None else sig
    pid = running_pid(cfg, name)
    if pid is None:
        cfg.pid_file(name).unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, sig)
    deadline = time.monotonic() + timeout
    while running_pid(cfg, name) and time.monotonic() < deadline:
        time.sleep(0.2)
    if running_pid(cfg, name):
        os.killpg(pid, signal.SIGKILL)
        while running_pid(cfg, name):
            time.sleep(0.1)
    cfg.pid_file(name).unlink(missing_ok=True)
    return True
