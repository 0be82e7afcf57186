"""The HTTP side of a service on FastAPI: its query APIs (behind the bearer token), health and
metrics (open), OpenAPI 3.1 at /openapi.json, and every error as an RFC 9457 problem
(`application/problem+json`). Lifespan events go to the FastStream app, which runs the broker.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from faststream.asgi.types import ASGIApp, Receive, Scope, Send
from pydantic import SecretStr
from starlette.exceptions import HTTPException as StarletteHTTPException

from contracts.http import Problem

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "https://pro-team.example/problems/"


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {
        "model": Problem,
        "content": {PROBLEM_JSON: {}},
        "description": HTTPStatus(status).phrase,
    }
    for status in (400, 401, 404)
}


class ApiError(HTTPException):
    """An error answered as a problem: `kind` is the last part of its type URI."""

    def __init__(
        self,
        status: int,
        detail: str,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, detail, headers)
        self.kind = kind or HTTPStatus(status).phrase.lower().replace(" ", "-")


def problem(
    request: Request,
    status: int,
    detail: str,
    kind: str | None = None,
    extra_headers: dict[str, str] | None = None,
) -> JSONResponse:
    kind = kind or HTTPStatus(status).phrase.lower().replace(" ", "-")
    body = Problem(
        type=PROBLEM_BASE + kind,
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    return JSONResponse(
        body.model_dump(), status, headers=headers | (extra_headers or {}), media_type=PROBLEM_JSON
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no route {request.url.path}"
    if exc.status_code == 405:
        allowed = (exc.headers or {}).get("Allow", "")
        detail = f"{request.url.path} takes {allowed}" if allowed else detail
    kept = {k: v for k, v in (exc.headers or {}).items() if k.lower() == "retry-after"}
    return problem(request, exc.status_code, detail, getattr(exc, "kind", None), kept)


async def _invalid_request(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"][1:]) or str(error["loc"][0])
        parts.append(f"{where}: {error['msg']}")
    return problem(request, 400, "; ".join(parts), "invalid-request")


def bearer_guard(api_token: SecretStr) -> Callable[..., Any]:
    """A dependency that lets a request through with the right bearer token (compared in
    constant time); no token configured: everyone."""
    scheme = HTTPBearer(auto_error=False, description="The API token (API_TOKEN setting).")

    async def guard(credentials: HTTPAuthorizationCredentials | None = Depends(scheme)) -> None:  # noqa: B008
        expected = api_token.get_secret_value()
        if not expected:
            return
        supplied = credentials.credentials if credentials is not None else ""
        if not hmac.compare_digest(supplied.encode(), expected.encode()):
            raise ApiError(401, "missing or wrong bearer token", "unauthorized")

    return guard


def api(
    title: str,
    description: str,
    open_routers: list[APIRouter],
    protected_routers: list[APIRouter],
    api_token: SecretStr,
) -> FastAPI:
    app = FastAPI(
        title=title,
        description=description,
        version="2.0.0",
        openapi_url="/openapi.json",
        docs_url=None,  # no third-party scripts: the document is what a gateway uses
        redoc_url=None,
    )
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    for router in open_routers:
        app.include_router(router)
    guard = bearer_guard(api_token)
    for router in protected_routers:
        app.include_router(router, dependencies=[Depends(guard)], responses=PROBLEMS)
    return app


MAX_BODY_BYTES = 1_000_000


class HttpApp:
    """The process's ASGI app: lifespan events to `lifespan_app` (the broker), HTTP to FastAPI,
    request bodies larger than MAX_BODY_BYTES refused with 413 before they are read."""

    def __init__(self, http: FastAPI, lifespan_app: ASGIApp | None) -> None:
        self.http = http
        self.lifespan_app = lifespan_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            if self.lifespan_app is not None:
                await self.lifespan_app(scope, receive, send)
            return
        if scope["type"] == "http" and _declared_length(scope) > MAX_BODY_BYTES:
            request = Request(scope)
            too_large = problem(request, 413, f"at most {MAX_BODY_BYTES} bytes", "too-large")
            await too_large(scope, receive, send)
            return
        await self.http(scope, receive, send)


def _declared_length(scope: Scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else MAX_BODY_BYTES + 1
        if name == b"transfer-encoding":
            return MAX_BODY_BYTES + 1  # a body of unknown length: refused (clients send lengths)
    return 0
