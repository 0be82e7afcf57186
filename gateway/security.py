"""What keeps the pages safe: the signed-in person in the session, a CSRF token on every form,
safe redirects, and the response headers (a strict Content-Security-Policy among them)."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSRF_FIELD = "csrf_token"
# No script at all, styles from this site only, forms post back here only, never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The accept page's address carries the invitation token: never send it to another site.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Person:
    """Who is signed in: a user id (a member's id, once they joined) and their email."""

    user_id: str
    email: str
    name: str | None = None

    def as_session(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "email": self.email, "name": self.name}

    @classmethod
    def from_session(cls, session: dict[str, Any]) -> Person | None:
        found = session.get("person")
        if not isinstance(found, dict) or not found.get("user_id") or not found.get("email"):
            return None
        return cls(str(found["user_id"]), str(found["email"]), found.get("name"))


def user_id_for(email: str) -> str:
    """The demo identity's stable user id for an email (a real gateway's identity provider
    supplies its own): the same address always signs in as the same user."""
    return "user-" + hashlib.sha256(email.encode()).hexdigest()[:24]


def csrf_token(session: dict[str, Any]) -> str:
    """The session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def csrf_ok(session: dict[str, Any], sent: object) -> bool:
    expected = session.get("csrf")
    return (
        isinstance(expected, str)
        and isinstance(sent, str)
        and hmac.compare_digest(expected.encode(), sent.encode())
    )


def safe_next(target: str | None, default: str = "/") -> str:
    """A path on this site to go to after signing in: never another site."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    return target


class SecurityHeaders:
    """Adds HEADERS to every response (pages, errors, static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
