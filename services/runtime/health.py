"""`/healthz` (the process is up) and `/readyz` (Kafka and MongoDB answer right now)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from pydantic import BaseModel, Field
from pymongo import AsyncMongoClient

from services.runtime.mongo import Document


class Live(BaseModel):
    status: str = Field(description="Always `ok` when the process answers.")


class Ready(BaseModel):
    status: str = Field(description="`ready` or `not ready`.")
    checks: dict[str, str] = Field(description="Each dependency: `ok` or why not.")
    last_transient_error: str | None = Field(
        default=None, description="The last error the service recovered from, if any."
    )


class Health:
    def __init__(self, broker: KafkaBroker, mongo: AsyncMongoClient[Document]) -> None:
        self.broker = broker
        self.mongo = mongo
        self.last_transient_error: str | None = None
        # why the broker side has not started yet (None once it has)
        self.startup_problem: Callable[[], str | None] = lambda: None

    def note_transient(self, exc: BaseException | None) -> None:
        self.last_transient_error = None if exc is None else repr(exc)[:300]

    async def ready(self) -> JSONResponse:
        checks = {"kafka": await self._kafka(), "mongodb": await self._mongo()}
        ok = all(value == "ok" for value in checks.values())
        body = Ready(status="ready" if ok else "not ready", checks=checks)
        body.last_transient_error = self.last_transient_error
        return JSONResponse(body.model_dump(exclude_none=True), 200 if ok else 503)

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

    def router(self) -> APIRouter:
        router = APIRouter(tags=["health"])

        @router.get("/healthz", response_model=Live, summary="The process is up")
        async def live() -> Live:
            return Live(status="ok")

        @router.get(
            "/readyz",
            response_model=Ready,
            summary="Kafka and MongoDB answer now (503 when not)",
            responses={503: {"model": Ready, "description": "Not ready"}},
        )
        async def ready() -> JSONResponse:
            return await self.ready()

        return router
