"""Faults and hostile input against the four services running as processes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.e2e.conftest import System, start_system, stop_system
from tests.e2e.conftest import system as system
from tests.servers import Servers


@pytest.fixture
async def quick_system(servers: Servers, unique: str, tmp_path: Path) -> AsyncIterator[System]:
    """Unknown actors are refused after 0.5 s instead of 5 s (many strangers here)."""
    running = await start_system(
        servers, unique, tmp_path, extra_env={"PROJECTION_GRACE_SECONDS": "0.5"}
    )
    try:
        yield running
    finally:
        await stop_system(running)
