"""The storage contract, in memory (the same list runs on FerretDB in tests/smoke)."""

from __future__ import annotations

import pytest

from services.runtime.collection import Storage
from services.runtime.memory_collection import MemoryStorage
from tests.storage_contract import StorageContract


@pytest.fixture
def storage() -> Storage:
    return MemoryStorage()


class TestMemoryStorage(StorageContract):
    pass
