"""Session-wide real servers. With none available the whole run fails with one clear message."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient

from services.runtime.mongo import Document, make_client
from tests.servers import Servers, resolve

_servers: Servers | None = None
# Folders whose tests need no server (pure rules; handlers over the in-memory unit of work).
SERVER_FREE = (Path(__file__).parent / "unit", Path(__file__).parent / "handlers")


def _server_free(arg: str) -> bool:
    path = Path(arg.split("::")[0]).resolve()
    return any(path == folder or folder in path.parents for folder in SERVER_FREE)


def pytest_configure(config: pytest.Config) -> None:
    global _servers
    if config.args and all(_server_free(arg) for arg in config.args):
        return  # `make test-fast`: a test there that asks for `servers` fails, never skips
    try:
        _servers = resolve()
    except (LookupError, RuntimeError) as exc:
        raise pytest.UsageError(str(exc)) from None
    os.environ.update(_servers.env())


def pytest_unconfigure(config: pytest.Config) -> None:
    if _servers is not None:
        _servers.cleanup.close()


def pytest_report_header(config: pytest.Config) -> list[str]:
    if _servers is None:
        return ["servers: none (server-free tests only)"]
    return [f"servers ({_servers.origin}): {_servers.versions()}"]


@pytest.fixture(scope="session")
def servers() -> Servers:
    assert _servers is not None
    return _servers


@pytest.fixture
def unique() -> str:
    """A short unique suffix for account ids, topics, database names of one test."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
async def mongo(servers: Servers) -> AsyncIterator[AsyncMongoClient[Document]]:
    client = make_client(servers.mongodb_uri)
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
def db_name(unique: str) -> Iterator[str]:
    yield f"test_{unique}"
