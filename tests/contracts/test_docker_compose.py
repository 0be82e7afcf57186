"""docker-compose.yml can't run here (no Docker engine), so check what can be checked: every
environment name a service gets is a setting it reads, and every topic the code uses is created."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from contracts.topics import all_topics
from gateway.settings import GatewaySettings
from pro_team_client import KafkaConnection
from services.access_control.settings import AccessControlSettings
from services.invitations.settings import InvitationsSettings
from services.membership.settings import MembershipSettings
from services.notifications.settings import NotificationsSettings
from services.runtime.settings import env_names

COMPOSE = yaml.safe_load((Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text())
SETTINGS = {
    "invitations": InvitationsSettings,
    "membership": MembershipSettings,
    "notifications": NotificationsSettings,
    "access_control": AccessControlSettings,
}


def test_each_service_runs_its_module_and_reads_every_variable_it_is_given() -> None:
    for name, settings_class in SETTINGS.items():
        service = COMPOSE["services"][name]
        assert service["command"] == ["python", "-m", f"services.{name}"]
        given = set(service["environment"])
        unknown = given - env_names(settings_class)
        assert not unknown, f"{name} is given variables it never reads: {unknown}"
        assert "healthcheck" in service
        assert service["depends_on"]["kafka-init"]["condition"] == "service_completed_successfully"


def test_the_gateway_runs_as_the_gateway_principal_and_reads_every_variable_it_is_given() -> None:
    gateway = COMPOSE["services"]["gateway"]
    assert gateway["command"] == ["python", "-m", "gateway"]
    environment = gateway["environment"]
    assert environment["KAFKA_SASL_USERNAME"] == "gateway"
    assert "MONGODB_URI" not in environment  # never a service's database
    reads = env_names(GatewaySettings) | set(
        KafkaConnection("x:1", "SASL_SSL", ssl_cafile="c").env()
    )
    assert not set(environment) - reads, set(environment) - reads
    assert gateway["ports"] == ["8080:8080"]
    assert COMPOSE["services"]["notifications"]["environment"]["ACCEPT_URL_BASE"].endswith(":8080")


def test_the_topic_job_creates_every_topic_and_dlq_with_6_partitions() -> None:
    script = COMPOSE["services"]["kafka-init"]["command"][0]
    bases = re.search(r"for topic in ([^;]+);", script)
    assert bases is not None
    created = {t for base in bases.group(1).split() for t in (base, base + ".dlq")}
    assert created == set(all_topics())
    assert "--partitions 6" in script


def test_the_servers_have_healthchecks_and_pinned_images() -> None:
    images = {name: COMPOSE["services"][name]["image"] for name in ("kafka", "mongo", "mailpit")}
    assert images == {
        "kafka": "apache/kafka:4.1.1",
        "mongo": "mongo:8.0.12",
        "mailpit": "axllent/mailpit:v1.33.1",
    }
    for name in images:
        assert "healthcheck" in COMPOSE["services"][name]


def test_the_ferretdb_variant_replaces_mongo_and_gives_every_service_credentials() -> None:
    variant = yaml.safe_load(
        (Path(__file__).resolve().parents[2] / "docker-compose.ferretdb.yml").read_text()
    )
    services = variant["services"]
    assert services["mongo"]["image"] == "ghcr.io/ferretdb/ferretdb:2.5.0"
    assert (
        services["postgres"]["image"]
        == "ghcr.io/ferretdb/postgres-documentdb:17-0.106.0-ferretdb-2.5.0"
    )
    assert services["mongo"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in SETTINGS:
        uri = services[name]["environment"]["MONGODB_URI"]
        assert uri.startswith("mongodb://pro_team:${ROOT_DB_PASSWORD:?")
        assert uri.endswith("@mongo:27017/?authSource=admin")


def test_no_broker_or_database_port_is_published_and_each_service_has_its_own_users() -> None:
    assert "ports" not in COMPOSE["services"]["kafka"]
    assert "ports" not in COMPOSE["services"]["mongo"]
    kafka = COMPOSE["services"]["kafka"]["environment"]
    assert kafka["KAFKA_AUTHORIZER_CLASS_NAME"].endswith("StandardAuthorizer")
    assert kafka["KAFKA_SUPER_USERS"] == "User:admin"
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    for name in SETTINGS:
        env = COMPOSE["services"][name]["environment"]
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_PLAINTEXT"
        assert env["KAFKA_SASL_USERNAME"] == name
        assert env["MONGODB_URI"].startswith(f"mongodb://{name}:")
        assert env["MONGODB_URI"].endswith(f"@mongo:27017/{name}?authSource={name}")


def test_the_compose_acl_script_is_generated_from_the_contract() -> None:
    from stack.kafka_security import acl_script

    script = (Path(__file__).resolve().parents[2] / "deploy" / "kafka-acls.sh").read_text()
    assert script == acl_script(), (
        "run: python -m stack.kafka_security script > deploy/kafka-acls.sh"
    )


def test_servers_keep_their_data_restart_and_are_bounded() -> None:
    services = COMPOSE["services"]
    assert set(COMPOSE["volumes"]) == {"kafka-data", "mongo-data", "mailpit-data"}
    assert "kafka-data:/var/lib/kafka/data" in services["kafka"]["volumes"]
    assert services["kafka"]["environment"]["KAFKA_LOG_DIRS"] == "/var/lib/kafka/data"
    assert "mongo-data:/data/db" in services["mongo"]["volumes"]
    for name in ("kafka", "mongo", "mailpit", *SETTINGS):
        assert services[name]["restart"] == "unless-stopped", name
        assert services[name]["mem_limit"], name


def test_services_get_longer_to_stop_than_their_graceful_timeout() -> None:
    from services.runtime.kafka import make_broker
    from services.runtime.kafka_access import KafkaAccess

    graceful = make_broker(KafkaAccess("127.0.0.1:9"), "probe").config.graceful_timeout
    assert graceful is not None
    for name in SETTINGS:
        grace = COMPOSE["services"][name]["stop_grace_period"]
        assert grace.endswith("s") and int(grace[:-1]) > graceful


def test_the_image_installs_dependencies_in_their_own_layer() -> None:
    root = Path(__file__).resolve().parents[2]
    steps = [
        line.split()[0]
        for line in (root / "Dockerfile").read_text().splitlines()
        if line and not line.startswith("#") and not line.startswith(" ")
    ]
    dockerfile = (root / "Dockerfile").read_text()
    # the code is copied after the dependencies were installed (from the hashed lock file)
    installed = dockerfile.index("pip install --require-hashes -r requirements.lock")
    assert installed < dockerfile.index("COPY services")
    assert "pip install --no-deps ." in dockerfile
    assert steps.count("COPY") >= 4
    ignored = (root / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".stack", ".env", "tests"} <= set(ignored)
