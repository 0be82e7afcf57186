"""The storage contract on the real MongoDB-wire server (the same list runs in memory in
tests/handlers, which is what makes the server-free handler tests worth trusting)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from pymongo import AsyncMongoClient

from services.runtime.collection import Storage
from services.runtime.mongo import Document
from services.runtime.mongo_collection import MongoStorage
from tests.storage_contract import StorageContract


@pytest.fixture
async def storage(mongo: AsyncMongoClient[Document], unique: str) -> AsyncIterator[Storage]:
    name = f"contract_{unique}"
    yield MongoStorage(mongo[name])
    await mongo.drop_database(name)


class TestMongoStorage(StorageContract):
    pass
