"""The AsyncMongoClient factory and the small helpers every store uses."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, OperationFailure

Document = dict[str, Any]

TRANSIENT_MONGO_ERRORS: tuple[type[Exception], ...] = (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
)


def make_client(uri: str) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        uri,
        serverSelectionTimeoutMS=5000,
        connectTimeoutMS=5000,
        tz_aware=True,
        retryWrites=False,  # FerretDB has no transactions to back them; handlers retry idempotently
    )


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT_MONGO_ERRORS):
        return True
    return isinstance(exc, OperationFailure) and exc.has_error_label("TransientTransactionError")
