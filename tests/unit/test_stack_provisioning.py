"""The stack's provisioning guarantees that need no server: checksums are enforced, a failing
build step is named with its log, and the ACL table gives each principal only its own topics."""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from contracts.topics import (
    ACCESS,
    COMMAND_TOPICS,
    INVITATIONS_LINKS,
    PUBLIC_EVENT_TOPICS,
    all_topics,
)
from services.runtime.kafka_access import KafkaAccess
from stack import config, kafka_security, postgres, sources


def _cfg(tmp: Path, vendor: Path | None) -> config.StackConfig:
    return replace(config.load(), cache_dir=tmp / "cache", data_dir=tmp / "data", vendor_dir=vendor)


def test_an_archive_from_the_mirror_with_the_pinned_checksum_is_used(tmp_path: Path) -> None:
    mirror = tmp_path / "vendor"
    mirror.mkdir()
    (mirror / "thing-1.0.tar.gz").write_bytes(b"the real archive")
    source = sources.Source(
        "thing", "1.0", hashlib.sha256(b"the real archive").hexdigest(), "http://127.0.0.1:9/x"
    )
    assert sources.fetch(_cfg(tmp_path, mirror), source) == mirror / "thing-1.0.tar.gz"


def test_an_archive_with_another_checksum_is_refused(tmp_path: Path) -> None:
    mirror = tmp_path / "vendor"
    mirror.mkdir()
    (mirror / "thing-1.0.tar.gz").write_bytes(b"tampered")
    source = sources.Source("thing", "1.0", "0" * 64, "http://127.0.0.1:9/x")
    with pytest.raises(sources.SourceError, match="refusing to build it"):
        sources.fetch(_cfg(tmp_path, mirror), source)


def test_no_mirror_and_no_download_names_the_setting(tmp_path: Path) -> None:
    source = sources.Source("thing", "1.0", "0" * 64, "http://127.0.0.1:9/thing.tar.gz")
    with pytest.raises(sources.SourceError, match="STACK_VENDOR_DIR"):
        sources.fetch(_cfg(tmp_path, None), source)


def test_every_pinned_source_has_a_sha256_and_an_upstream_url() -> None:
    for source in sources.ALL:
        assert len(source.sha256) == 64 and int(source.sha256, 16) >= 0
        assert source.url.startswith("https://") and source.version in source.url


def test_a_failing_build_step_is_named_with_its_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "build-thing.log"
    failing = [sys.executable, "-c", "import sys; print('cc: error: boom'); sys.exit(2)"]
    with pytest.raises(postgres.PostgresError) as failed:
        postgres._step("compile thing", failing, log)
    assert "step 'compile thing' failed (exit 2)" in str(failed.value)
    assert str(log) in str(failed.value)
    assert "cc: error: boom" in log.read_text()


def test_acls_give_each_principal_only_what_the_contract_says() -> None:
    acls = kafka_security.all_acls()

    def topics(principal: str, operation: int) -> set[str]:
        return {
            a.resource_name
            for a in acls
            if a.principal == f"User:{principal}"
            and a.operation == operation
            and a.resource_type == kafka_security.TOPIC
        }

    assert topics("gateway", kafka_security.WRITE) == set(COMMAND_TOPICS)
    assert topics("gateway", kafka_security.READ) == set(PUBLIC_EVENT_TOPICS)
    assert topics("downstream", kafka_security.WRITE) == set()
    assert topics("downstream", kafka_security.READ) == set(PUBLIC_EVENT_TOPICS)
    readers_of_links = {
        name for name in ACCESS if INVITATIONS_LINKS in topics(name, kafka_security.READ)
    }
    assert readers_of_links == {"notifications"}
    writers = {t: {n for n in ACCESS if t in topics(n, kafka_security.WRITE)} for t in all_topics()}
    assert all(len(names) <= 1 for t, names in writers.items() if not t.endswith(".dlq"))
    assert not any(a.principal == "User:admin" for a in acls)  # the super user needs none


def test_kafka_access_round_trips_through_the_environment() -> None:
    access = KafkaAccess("127.0.0.1:9092", "SASL_PLAINTEXT", "SCRAM-SHA-512", "gateway", "pw")
    assert KafkaAccess.from_env(access.env()) == access
    options = access.aiokafka()
    assert (
        options["sasl_plain_username"] == "gateway" and options["sasl_mechanism"] == "SCRAM-SHA-512"
    )
    assert access.faststream_security() is not None
    assert KafkaAccess("h:1").faststream_security() is None
    with pytest.raises(ValueError, match="KAFKA_SECURITY_PROTOCOL"):
        KafkaAccess.from_env({"KAFKA_SECURITY_PROTOCOL": "SASL_TEXT"})


def test_credentials_are_written_for_the_owner_only(tmp_path: Path) -> None:
    from stack import credentials

    cfg = _cfg(tmp_path, None)
    created = credentials.create(cfg)
    assert os.stat(cfg.credentials_file).st_mode & 0o777 == 0o600
    assert credentials.load(cfg) == created
    assert set(created.kafka) == set(credentials.KAFKA_PRINCIPALS)
    assert len(set(created.kafka.values())) == len(created.kafka)  # one password each
    assert all(credentials.new_password()[0].isalpha() for _ in range(500))
