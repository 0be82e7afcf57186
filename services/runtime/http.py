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
    body: bytes = b""


@dataclass(frozen=True)
class Response:
    status: int
    body: Any  # JSON-able; bytes, or an async iterator of bytes (streamed), sent as they are
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
    methods: tuple[str, ...] = ("GET", "HEAD")


def route(
    path: str,
    endpoint: Endpoint,
    protected: bool = True,
    methods: tuple[str, ...] = ("GET", "HEAD"),
) -> Route:
    """`path` like "/accounts/{account_id}/users"; each {param} matches one path segment."""
    regex = re.sub(
        r"\{(\w+)\}", r"(?P<\1>[^/]+)", re.escape(path).replace("\\{", "{").replace("\\}", "}")
    )
    return Route(re.compile(f"^{regex}$"), endpoint, protected, methods)


MAX_BODY_BYTES = 1_000_000


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
        response = await self.dispatch(scope, receive)
        headers = [(b"content-type", response.content_type.encode())]
        if response.status == 401:
            headers.append((b"www-authenticate", b"Bearer"))
        if hasattr(response.body, "__aiter__"):  # streamed, chunk by chunk, in bounded memory
            await send(
                {"type": "http.response.start", "status": response.status, "headers": headers}
            )
            async for chunk in response.body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            return
        raw = isinstance(response.body, bytes)
        body = response.body if raw else json.dumps(response.body, default=str).encode()
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def dispatch(self, scope: Scope, receive: Receive | None = None) -> Response:
        path = scope["path"]
        for candidate in self.routes:
            match = candidate.pattern.match(path)
            if match is None:
                continue
            if scope["method"] not in candidate.methods:
                return Response.error(405, f"{path} takes {', '.join(candidate.methods)}")
            if candidate.protected and not self._authorised(scope):
                return Response.error(401, "missing or wrong bearer token")
            query = {
                key: values[-1]
                for key, values in parse_qs(scope.get("query_string", b"").decode()).items()
            }
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            body = b""
            if scope["method"] == "POST" and receive is not None:
                received = await _read_body(receive)
                if received is None:
                    return Response.error(413, f"at most {MAX_BODY_BYTES} bytes")
                body = received
            return await candidate.endpoint(Request(params, query, body))
        return Response.error(404, "no such route")

    def _authorised(self, scope: Scope) -> bool:
        token = self.api_token.get_secret_value()
        if not token:
            return True
        headers = dict(scope.get("headers", []))
        supplied: bytes = headers.get(b"authorization", b"")
        return hmac.compare_digest(supplied, f"Bearer {token}".encode())  # constant time


async def _read_body(receive: Receive) -> bytes | None:
    """The request body; None when it is larger than MAX_BODY_BYTES (the rest is drained)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks) if size <= MAX_BODY_BYTES else None
