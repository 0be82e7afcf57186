"""`/healthz` (the process is up) and `/readyz` (Kafka and MongoDB answer right now)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

from services.runtime.http import Request, Response, Route, route
from services.runtime.mongo import Document


class Health:
    def __init__(self, broker: KafkaBroker, mongo: AsyncMongoClient[Document]) -> None:
        self.broker = broker
        self.mongo = mongo
        self.last_transient_error: str | None = None
        # why the broker side has not started yet (None once it has)
        self.startup_problem: Callable[[], str | None] = lambda: None

    def note_transient(self, exc: BaseException | None) -> None:
        self.last_transient_error = None if exc is None else repr(exc)[:300]

    async def live(self, request: Request) -> Response:
        return Response(200, {"status": "ok"})

    async def ready(self, request: Request) -> Response:
        checks = {"kafka": await self._kafka(), "mongodb": await self._mongo()}
        ok = all(value == "ok" for value in checks.values())
        body: dict[str, object] = {"status": "ready" if ok else "not ready", "checks": checks}
        if self.last_transient_error:
            body["last_transient_error"] = self.last_transient_error
        return Response(200 if ok else 503, body)

    async def _kafka(self) -> str:
        problem = self.startup_problem()
        if problem is not None:
            return f"not started: {problem}"[:300]
        try:
            return "ok" if await self.broker.ping(timeout=2.0) else "unreachable"
        except Exception as exc:  # noqa: BLE001 - any failure is "not ready"
            return f"error: {exc!r}"[:200]

    async def _mongo(self) -> str:
        try:
            await asyncio.wait_for(self.mongo.admin.command("ping"), 2.0)
            return "ok"
        except Exception as exc:  # noqa: BLE001
            return f"error: {exc!r}"[:200]

    def routes(self) -> list[Route]:
        return [
            route("/healthz", self.live, protected=False),
            route("/readyz", self.ready, protected=False),
        ]
