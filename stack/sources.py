"""Source archives that no package registry serves, checked against SHA-256 sums kept here.

They come from an offline mirror folder (`STACK_VENDOR_DIR`, by default `../shared/vendor` beside
the clone when it exists) or, failing that, from the upstream release URL.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from stack.config import DOCUMENTDB_VERSION, StackConfig


class SourceError(RuntimeError):
    pass


@dataclass(frozen=True)
class Source:
    name: str
    version: str
    sha256: str
    url: str

    @property
    def archive(self) -> str:
        return f"{self.name}-{self.version}.tar.gz"

    @property
    def directory(self) -> str:
        """The archive's top-level folder (`git archive` of the tag, as upstream publishes it)."""
        return f"{self.name}-{self.version}"


PG_CRON = Source(
    "pg_cron",
    "1.6.3",
    "3580f4034021e62e459f9f7ab1f625774bfc534a9256844545da85d6f99c2f5b",
    "https://github.com/citusdata/pg_cron/archive/refs/tags/v1.6.3.tar.gz",
)
PGVECTOR = Source(
    "pgvector",
    "0.8.0",
    "93df40ccdaaaa267d1275c1e6e773004a0e5ff8e14227934a4ec7e8205d0f608",
    "https://github.com/pgvector/pgvector/archive/refs/tags/v0.8.0.tar.gz",
)
DOCUMENTDB = Source(
    "documentdb",
    DOCUMENTDB_VERSION,
    "3ba0408eee7c3bc67933da50034092ee77e2aa79b61234c1216b0a1ffac21df1",
    f"https://github.com/FerretDB/documentdb/archive/refs/tags/v{DOCUMENTDB_VERSION}.tar.gz",
)
ALL = (PG_CRON, PGVECTOR, DOCUMENTDB)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _checked(path: Path, source: Source, origin: str) -> Path:
    actual = sha256_of(path)
    if actual != source.sha256:
        raise SourceError(
            f"{source.archive} from {origin} has SHA-256 {actual}, expected {source.sha256} "
            "(stack/sources.py); refusing to build it"
        )
    return path


def fetch(cfg: StackConfig, source: Source) -> Path:
    """The verified archive: from the mirror folder, the download cache, or the upstream URL."""
    if cfg.vendor_dir is not None and (cfg.vendor_dir / source.archive).exists():
        return _checked(cfg.vendor_dir / source.archive, source, str(cfg.vendor_dir))
    cached = cfg.cache_dir / "archives" / source.archive
    if cached.exists():
        return _checked(cached, source, str(cached.parent))
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=cached.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(source.url, timeout=60) as response:  # noqa: S310
                shutil.copyfileobj(response, tmp)
        except OSError as exc:
            Path(tmp.name).unlink(missing_ok=True)
            mirror = cfg.vendor_dir or "STACK_VENDOR_DIR (unset)"
            raise SourceError(
                f"{source.archive} is neither in {mirror} nor downloadable from {source.url} "
                f"({exc}); point STACK_VENDOR_DIR at a folder that holds it"
            ) from exc
    _checked(Path(tmp.name), source, source.url)
    Path(tmp.name).rename(cached)
    return cached
