"""PostgreSQL 15 with the DocumentDB extension: Debian packages, extension builds, the cluster.

Steps, each idempotent and each failing with one message that names it and its log file:
1. Debian packages (PostgreSQL 15, its server headers, rum, PostGIS, libbson, PCRE2, Intel's
   decimal library), installed with apt-get when missing.
2. pg_cron, pgvector and DocumentDB built from checksummed source archives into the cache
   (`<cache>/pg15-extensions/<name>-<version>/`, keyed by version), then copied into
   PostgreSQL's own extension folders (PostgreSQL 15 loads extensions from nowhere else).
3. A private cluster under the stack's data folder: password (SCRAM) authentication over TCP;
   the Unix socket, in a folder only the server's OS user may enter, is what DocumentDB uses to
   connect back to its own server.
"""

from __future__ import annotations

import filecmp
import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path

from stack import sources
from stack.config import POSTGRES_MAJOR, StackConfig
from stack.credentials import POSTGRES_ADMIN, write_private

PG_BIN = Path(f"/usr/lib/postgresql/{POSTGRES_MAJOR}/bin")
PG_CONFIG = PG_BIN / "pg_config"
DEBIAN_PACKAGES = (
    f"postgresql-{POSTGRES_MAJOR}",
    f"postgresql-server-dev-{POSTGRES_MAJOR}",
    "postgresql-contrib",
    f"postgresql-{POSTGRES_MAJOR}-rum",
    f"postgresql-{POSTGRES_MAJOR}-postgis-3",
    "libbson-dev",
    "libpcre2-dev",
    "libintelrdfpmath-dev",
    "libicu-dev",
    "libkrb5-dev",
    "pkg-config",
    "make",
    "gcc",
)
# Debian's libbson (1.23) lacks an enum value DocumentDB 0.106 uses.
DOCUMENTDB_COPT = "-DBSON_SUBTYPE_SENSITIVE=0x08 -Wno-error=switch"
# Debian's Intel decimal library ships no pkg-config file; DocumentDB's Makefile asks for one.
INTELMATHLIB_PC = """Name: intelmathlib
Description: Intel decimal floating-point math library (Debian libintelrdfpmath-dev)
Version: 2.0
Cflags: -I/usr/include
Libs: -l:libbidgcc000.a
"""
DOCUMENTDB_SETTINGS = {
    "shared_preload_libraries": "'pg_cron,pg_documentdb_core,pg_documentdb'",
    "cron.database_name": "'postgres'",
    "documentdb.enableCompact": "true",
    "documentdb.enableLetAndCollationForQueryMatch": "true",
    "documentdb.enableNowSystemVariable": "true",
    "documentdb.enableSortbyIdPushDownToPrimaryKey": "true",
    "documentdb.enableSchemaValidation": "true",
    "documentdb.enableBypassDocumentValidation": "true",
    "documentdb.enableUserCrud": "true",
    "documentdb.maxUserLimit": "100",
}


class PostgresError(RuntimeError):
    pass


def _sudo() -> list[str]:
    return [] if os.geteuid() == 0 else ["sudo", "-n"]


def _step(step: str, cmd: list[str], log: Path, cwd: Path | None = None, **env: str) -> None:
    """Run one build step, appending to its log; a failure names the step and the log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(cmd)}\n")
        out.flush()
        result = subprocess.run(
            cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **env}
        )
    if result.returncode != 0:
        raise PostgresError(
            f"step '{step}' failed (exit {result.returncode}); see {log}. "
            "Fix the cause and run `python -m stack up` again: finished steps are kept."
        )


# ---- 1. Debian packages -------------------------------------------------------------------------


def missing_packages() -> list[str]:
    result = subprocess.run(
        ["dpkg-query", "-W", "-f=${Package} ${Status}\n", *DEBIAN_PACKAGES],
        capture_output=True,
        text=True,
    )
    lines = result.stdout.splitlines()
    installed = {line.split()[0] for line in lines if line.endswith("install ok installed")}
    return [name for name in DEBIAN_PACKAGES if name not in installed]


def ensure_packages(cfg: StackConfig) -> None:
    missing = missing_packages()
    if not missing:
        return
    if shutil.which("apt-get") is None:
        raise PostgresError(f"these Debian packages are missing and there is no apt-get: {missing}")
    log = cfg.cache_dir / "logs" / "apt-get.log"
    print(f"\n  installing Debian packages ({len(missing)}): {' '.join(missing)}", flush=True)
    _step("apt-get update", [*_sudo(), "apt-get", "update", "-qq"], log)
    _step(
        "apt-get install",
        [*_sudo(), "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
        log,
        DEBIAN_FRONTEND="noninteractive",
    )


# ---- 2. extensions ------------------------------------------------------------------------------


def _stage_dir(cfg: StackConfig, source: sources.Source) -> Path:
    return cfg.cache_dir / f"pg{POSTGRES_MAJOR}-extensions" / source.directory


def _build(cfg: StackConfig, source: sources.Source) -> Path:
    """Build one extension into its cached staging tree (DESTDIR); returns that tree."""
    stage = _stage_dir(cfg, source)
    done = stage / ".built"
    if done.exists():
        return stage
    archive = sources.fetch(cfg, source)
    work = cfg.cache_dir / "build"
    tree = work / source.directory
    log = cfg.cache_dir / "logs" / f"build-{source.directory}.log"
    log.unlink(missing_ok=True)
    shutil.rmtree(tree, ignore_errors=True)
    shutil.rmtree(stage, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    make = ["make", f"PG_CONFIG={PG_CONFIG}", "with_llvm=no"]
    env: dict[str, str] = {}
    if source is sources.DOCUMENTDB:
        # As DocumentDB's own packaging does: leave the internal (distributed) parts out.
        makefile = tree / "Makefile"
        kept = [line for line in makefile.read_text().splitlines(True) if "internal" not in line]
        makefile.write_text("".join(kept))
        pkgconfig = work / "pkgconfig"
        pkgconfig.mkdir(exist_ok=True)
        (pkgconfig / "intelmathlib.pc").write_text(INTELMATHLIB_PC)
        env["PKG_CONFIG_PATH"] = str(pkgconfig)
        make.append(f"COPT={DOCUMENTDB_COPT}")
    jobs = f"-j{os.cpu_count() or 1}"
    _step(f"compile {source.directory}", [*make, jobs], log, cwd=tree, **env)
    _step(f"stage {source.directory}", [*make, "install", f"DESTDIR={stage}"], log, cwd=tree, **env)
    done.write_text(f"{source.directory}\n")
    shutil.rmtree(tree, ignore_errors=True)
    return stage


def _install(stage: Path) -> bool:
    """Copy a staged tree into the system's PostgreSQL folders where it differs."""
    changed = False
    for path in sorted(stage.rglob("*")):
        if path.is_dir() or path.name == ".built":
            continue
        target = Path("/") / path.relative_to(stage)
        if target.exists() and filecmp.cmp(path, target, shallow=False):
            continue
        changed = True
        if os.geteuid() == 0:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
        else:
            install = ["install", "-D", "-m", "0644", str(path), str(target)]
            subprocess.run([*_sudo(), *install], check=True)
    return changed


def ensure_extensions(cfg: StackConfig) -> str:
    for source in sources.ALL:
        _install(_build(cfg, source))
    return ", ".join(s.directory for s in sources.ALL)


def provision(cfg: StackConfig) -> str:
    ensure_packages(cfg)
    return f"PostgreSQL {POSTGRES_MAJOR} + {ensure_extensions(cfg)}"


# ---- 3. the cluster -----------------------------------------------------------------------------


def server_user() -> pwd.struct_passwd | None:
    """PostgreSQL refuses to run as root; as root we run it as Debian's `postgres` user."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam("postgres")


def _reachable_by(path: Path, uid: int) -> bool:
    return all(
        p.stat().st_uid == uid or p.stat().st_mode & stat.S_IXOTH
        for p in [path, *path.parents]
        if p.exists()
    )


def cluster_dir(cfg: StackConfig) -> Path:
    """Under the data folder, unless the server's OS user cannot reach it (a root-only home)."""
    user = server_user()
    preferred = cfg.data_dir / "postgres"
    if user is None or _reachable_by(cfg.data_dir, user.pw_uid):
        return preferred
    digest = hashlib.sha256(str(cfg.data_dir.resolve()).encode()).hexdigest()[:12]
    return Path("/var/lib/pro-team-stack") / f"postgres-{digest}"


def socket_dir(cfg: StackConfig) -> Path:
    # Unix socket paths are limited to ~107 bytes, so not under a deep data folder.
    return Path("/tmp") / f"pro-team-pg-{cfg.postgres_port}"  # noqa: S108 - private 0700 folder


def _own(path: Path, mode: int) -> None:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(mode)
    user = server_user()
    if user is not None:
        os.chown(path, user.pw_uid, user.pw_gid)


def init_cluster(cfg: StackConfig, admin_password: str) -> Path:
    """A new, empty cluster with the stack's admin user (wipes an earlier one)."""
    data = cluster_dir(cfg) / "data"
    shutil.rmtree(data.parent, ignore_errors=True)
    _own(data.parent, 0o700)
    pwfile = data.parent / "initdb.pw"
    write_private(pwfile, admin_password + "\n")
    user = server_user()
    if user is not None:
        os.chown(pwfile, user.pw_uid, user.pw_gid)
    log = cfg.log_file("postgres-initdb")
    log.unlink(missing_ok=True)
    try:
        _step(
            "initdb",
            [
                *_as_server_user(),
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                POSTGRES_ADMIN,
                "--auth-host=scram-sha-256",
                "--auth-local=trust",
                f"--pwfile={pwfile}",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            log,
            cwd=Path("/"),
        )
    finally:
        pwfile.unlink(missing_ok=True)
    settings = {
        "listen_addresses": f"'{cfg.host}'",
        "port": str(cfg.postgres_port),
        "unix_socket_directories": f"'{socket_dir(cfg)}'",
        "unix_socket_permissions": "0700",
        "documentdb.localhost_connection_string": f"'host={socket_dir(cfg)}'",
        "password_encryption": "scram-sha-256",
        "max_connections": "200",
        "shared_buffers": "256MB",
        "fsync": "on",
        **DOCUMENTDB_SETTINGS,
    }
    with (data / "postgresql.conf").open("a") as conf:
        conf.write("\n# pro-team stack\n")
        conf.writelines(f"{key} = {value}\n" for key, value in settings.items())
    (data / "pg_hba.conf").write_text(
        "# Unix socket (folder 0700, server user only): DocumentDB's own loopback connections\n"
        "local all all trust\n"
        f"host all all {cfg.host}/32 scram-sha-256\n"
    )
    return data


def _as_server_user() -> list[str]:
    user = server_user()
    return [] if user is None else ["runuser", "-u", user.pw_name, "--"]


def server_command(cfg: StackConfig) -> list[str]:
    _own(socket_dir(cfg), 0o700)
    return [*_as_server_user(), str(PG_BIN / "postgres"), "-D", str(cluster_dir(cfg) / "data")]


def psql(cfg: StackConfig, sql: str, database: str = "postgres") -> str:
    """Run SQL as the stack's admin over the private Unix socket."""
    result = subprocess.run(
        [
            *_as_server_user(),
            str(PG_BIN / "psql"),
            "-h",
            str(socket_dir(cfg)),
            "-p",
            str(cfg.postgres_port),
            "-U",
            POSTGRES_ADMIN,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-tAc",
            sql,
        ],
        capture_output=True,
        text=True,
        cwd="/",
    )
    if result.returncode != 0:
        raise PostgresError(f"psql: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()
