"""A tiny ASGI router for the read-only query APIs and health checks.

FastStream's AsgiFastStream matches exact paths only; the query APIs need path parameters, so
HTTP requests come here and lifespan events go to the FastStream app (which runs the broker).
"""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

from faststream.asgi.types import ASGIApp, Receive, Scope, Send
from pydantic import SecretStr


@dataclass(frozen=True)
class Request:
    path_params: dict[str, str]
    query: dict[str, str]


@dataclass(frozen=True)
class Response:
    status: int
    body: Any  # JSON-able, or bytes sent as they are with `content_type`
    content_type: str = "application/json"

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        return cls(status, {"error": message})


Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True)
class Route:
    pattern: re.Pattern[str]
    endpoint: Endpoint
    protected: bool


def route(path: str, endpoint: Endpoint, protected: bool = True) -> Route:
    """`path` like "/accounts/{account_id}/users"; each {param} matches one path segment."""
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
    return Route(re.compile(f"^{regex}$"), endpoint, protected)


class HttpApp:
    def __init__(
        self,
        routes: list[Route],
        lifespan_app: ASGIApp | None,
        api_token: SecretStr = SecretStr(""),  # noqa: B008 - immutable
    ) -> None:
        self.routes = routes
        self.lifespan_app = lifespan_app
        self.api_token = api_token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            if self.lifespan_app is not None:
                await self.lifespan_app(scope, receive, send)
            return
        if scope["type"] != "http":
            return
        response = await self.dispatch(scope)
        raw = isinstance(response.body, bytes)
        body = response.body if raw else json.dumps(response.body, default=str).encode()
        headers = [
            (b"content-type", response.content_type.encode()),
            (b"content-length", str(len(body)).encode()),
        ]
        if response.status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def dispatch(self, scope: Scope) -> Response:
        if scope["method"] not in ("GET", "HEAD"):
            return Response.error(405, "read-only API: GET only")
        path = scope["path"]
        for candidate in self.routes:
            match = candidate.pattern.match(path)
            if match is None:
                continue
            if candidate.protected and not self._authorised(scope):
                return Response.error(401, "missing or wrong bearer token")
            query = {
                key: values[-1]
                for key, values in parse_qs(scope.get("query_string", b"").decode()).items()
            }
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            return await candidate.endpoint(Request(params, query))
        return Response.error(404, "no such route")

    def _authorised(self, scope: Scope) -> bool:
        token = self.api_token.get_secret_value()
        if not token:
            return True
        headers = dict(scope.get("headers", []))
        supplied: bytes = headers.get(b"authorization", b"")
        return hmac.compare_digest(supplied, f"Bearer {token}".encode())  # constant time
