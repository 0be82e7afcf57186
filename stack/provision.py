"""Fetch and build the stack's servers into a cache outside the clone (idempotent)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from stack import postgres
from stack.config import (
    FERRETDB_GO_TOOLCHAIN,
    FERRETDB_VERSION,
    KAFKA_VERSION,
    MAILPIT_VERSION,
    REPO,
    StackConfig,
)
from stack.sources import SourceError

FERRETDB_MODULE = "github.com/FerretDB/FerretDB/v2"
MAILPIT_MODULE = "github.com/axllent/mailpit"


class ProvisionError(RuntimeError):
    pass


def _run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(
        cmd, env={**os.environ, **(env or {})}, cwd=cwd, capture_output=True, text=True
    )
    if result.returncode != 0:
        output = f"{result.stdout}\n{result.stderr}".strip()
        raise ProvisionError(f"command failed ({result.returncode}): {' '.join(cmd)}\n{output}")
    return result.stdout


def _require(tool: str, hint: str) -> None:
    if shutil.which(tool) is None:
        raise ProvisionError(f"'{tool}' is not installed: {hint}")


def kafka(cfg: StackConfig) -> Path:
    """The broker's jars, from Maven Central through Maven's own cache (~/.m2)."""
    marker = cfg.kafka_libs / f"kafka_2.13-{KAFKA_VERSION}.jar"
    if marker.exists():
        return cfg.kafka_libs
    _require("mvn", "install Maven (Debian: apt-get install maven)")
    _require("java", "install a Java 17 runtime (Debian: apt-get install openjdk-17-jre-headless)")
    cfg.kafka_libs.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=cfg.kafka_libs.parent))
    _run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(REPO / "stack" / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-Dkafka.version={KAFKA_VERSION}",
            f"-DoutputDirectory={staging}",
        ]
    )
    shutil.rmtree(cfg.kafka_libs, ignore_errors=True)
    staging.rename(cfg.kafka_libs)
    return cfg.kafka_libs


def _go_env(gobin: Path) -> dict[str, str]:
    return {"GOBIN": str(gobin), "GOFLAGS": "-buildvcs=false", "CGO_ENABLED": "0"}


def ferretdb(cfg: StackConfig) -> Path:
    """FerretDB v2 built with `go install` on the Go toolchain it compiles with."""
    binary = cfg.bin_dir / f"ferretdb-{FERRETDB_VERSION}"
    if binary.exists():
        return binary
    _require("go", "install Go >= 1.21 (it fetches the pinned toolchain itself)")
    with tempfile.TemporaryDirectory() as scratch:
        gobin = Path(scratch)
        _run(
            ["go", "install", f"{FERRETDB_MODULE}/cmd/ferretdb@{FERRETDB_VERSION}"],
            {**_go_env(gobin), "GOTOOLCHAIN": FERRETDB_GO_TOOLCHAIN},
        )
        cfg.bin_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(gobin / "ferretdb", binary)
    return binary


def mailpit(cfg: StackConfig) -> Path:
    binary = cfg.bin_dir / f"mailpit-{MAILPIT_VERSION}"
    if binary.exists():
        return binary
    _require("go", "install Go >= 1.24 (Debian: apt-get install golang)")
    with tempfile.TemporaryDirectory() as scratch:
        gobin = Path(scratch)
        version_flag = f"-X {MAILPIT_MODULE}/config.Version={MAILPIT_VERSION}"
        _run(
            ["go", "install", "-ldflags", version_flag, f"{MAILPIT_MODULE}@{MAILPIT_VERSION}"],
            _go_env(gobin),
        )
        cfg.bin_dir.mkdir(parents=True, exist_ok=True)
        shutil.move(gobin / "mailpit", binary)
    return binary


def _postgres(cfg: StackConfig) -> str:
    try:
        return postgres.provision(cfg)
    except (postgres.PostgresError, SourceError) as exc:
        raise ProvisionError(str(exc)) from exc


STEPS: dict[str, Callable[[StackConfig], object]] = {
    "kafka": kafka,
    "postgres": _postgres,
    "ferretdb": ferretdb,
    "mailpit": mailpit,
}


def all_servers(cfg: StackConfig, names: list[str] | None = None) -> None:
    for name, step in STEPS.items():
        if names is None or name in names:
            print(f"provision {name}: ", end="", flush=True)
            print(step(cfg))
