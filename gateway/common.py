"""What every page shares: rendering, flashes, the CSRF-checked form, who is looking, and
sending a command and waiting for its outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from contracts.envelope import MessageData
from contracts.http import UserRow, UserStatus
from gateway import words
from gateway.security import Person, csrf_ok, csrf_token
from gateway.settings import GatewaySettings
from pro_team_client import Outcome, OutcomeTimeout, TeamApi, TeamClient

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")


def _when(value: str) -> str:
    """An RFC 3339 time as a person reads it: 5 December 2026, 18:55 UTC."""
    try:
        moment = datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        return value
    return f"{moment.day} {moment:%B %Y, %H:%M} UTC"


TEMPLATES.env.filters["when"] = _when
# Which pages a role opens (the services decide what each command may do; these only spare a
# person pages whose every action would be refused).
TEAM_MANAGERS = frozenset({"owner", "administrator"})
CLIENT_MANAGERS = TEAM_MANAGERS | {"client_administrator"}
C = TypeVar("C", bound=MessageData)


@dataclass
class Gateway:
    """What the pages talk to: the client package's two halves."""

    settings: GatewaySettings
    team: TeamClient
    api: TeamApi


def gateway_of(request: Request) -> Gateway:
    found: Gateway = request.app.state.gateway
    return found


class CsrfRefused(Exception):
    """A form came without this session's CSRF token (forged, or from an old page)."""


class SignInFirst(Exception):
    def __init__(self, back_to: str) -> None:
        super().__init__(back_to)
        self.back_to = back_to


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    session = request.session
    context |= {
        "person": Person.from_session(session),
        "csrf": csrf_token(session),
        "flash": session.pop("flash", None),
        "home_account": session.get("account_id"),
    }
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status)


def flash(request: Request, text: str, kind: str = "success") -> None:
    """A message for the next page shown (kinds: success, error, info)."""
    request.session["flash"] = {"kind": kind, "text": text}


def back_to(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


async def form_of(request: Request) -> dict[str, Any]:
    """The posted form, refused unless it carries this session's CSRF token. Repeated fields
    (check boxes) come as lists."""
    form = await request.form()
    if not csrf_ok(request.session, form.get("csrf_token")):
        raise CsrfRefused
    fields: dict[str, Any] = {}
    for name in form:
        values = [v for v in form.getlist(name) if isinstance(v, str)]
        fields[name] = values if len(values) > 1 else (values[0] if values else "")
    return fields


def signed_in(request: Request) -> Person:
    person = Person.from_session(request.session)
    if person is None:
        query = request.url.query
        raise SignInFirst(request.url.path + (f"?{query}" if query else ""))
    return person


@dataclass(frozen=True)
class Viewer:
    """A signed-in member of the account the page is about."""

    person: Person
    row: UserRow
    account_id: str

    @property
    def manages_team(self) -> bool:
        return bool(TEAM_MANAGERS & set(self.row.roles))

    @property
    def manages_clients(self) -> bool:
        return bool(CLIENT_MANAGERS & set(self.row.roles))


async def viewer(request: Request, account_id: str) -> Viewer:
    """The signed-in person as an active member of `account_id`; 404 for anyone else, so
    another account's pages look like pages that do not exist."""
    person = signed_in(request)
    row = await active_member(gateway_of(request).api, account_id, person.user_id)
    if row is None:
        raise HTTPException(404, "There is no such page.")
    return Viewer(person, row, account_id)


async def active_member(api: TeamApi, account_id: str, user_id: str) -> UserRow | None:
    """The user's row when they are an active member of the account."""
    row = await api.member(account_id, user_id)
    return row if row is not None and row.status is UserStatus.ACTIVE else None


async def until(check: Callable[[], Awaitable[object]], seconds: float) -> None:
    """Wait (at most `seconds`) until `check` answers something true: the services' read
    sides catch up a moment after a command's outcome, and the next page should show it."""
    for _ in range(int(seconds / 0.2)):
        if await check():
            return
        await asyncio.sleep(0.2)


async def team_manager(request: Request, account_id: str) -> Viewer:
    found = await viewer(request, account_id)
    if not found.manages_team:
        raise HTTPException(403, "Only the account's owner and administrators manage the team.")
    return found


async def client_manager(request: Request, account_id: str) -> Viewer:
    found = await viewer(request, account_id)
    if not found.manages_clients:
        raise HTTPException(
            403, "Only the account's owner, administrators and client administrators do this."
        )
    return found


async def send(request: Request, command: MessageData, viewer: Viewer) -> Outcome | None:
    """Send as the viewer and wait for the outcome; None (and a flash saying so) when it does
    not arrive in time."""
    gateway = gateway_of(request)
    try:
        return await gateway.team.request(
            command,
            account_id=viewer.account_id,
            actor_id=viewer.person.user_id,
            timeout=gateway.settings.outcome_timeout_seconds,
        )
    except OutcomeTimeout:
        flash(request, words.STILL_ON_ITS_WAY, "info")
        return None


async def carry_out(
    request: Request, viewer: Viewer, build: Callable[[], C], success: Callable[[C], str]
) -> tuple[C, Outcome] | None:
    """Build the command (a form the contract refuses: its problems are flashed and nothing is
    sent), send it as the viewer and flash its outcome in words. The command and its outcome;
    None when nothing was sent or no outcome came in time."""
    try:
        command = build()
    except ValidationError as error:
        flash(request, words.of_invalid_form(error), "error")
        return None
    outcome = await send(request, command, viewer)
    report(request, outcome, success(command))
    return None if outcome is None else (command, outcome)


def report(request: Request, outcome: Outcome | None, success: str) -> None:
    """Flash the outcome: `success` when accepted, the refusal in words otherwise."""
    if outcome is None:
        return
    refused = words.of_outcome(outcome)
    if refused is None:
        flash(request, success)
    else:
        flash(request, refused, "error")


def tags_from(text: str) -> list[str]:
    """Tags typed as "adults, north": trimmed, empty ones dropped."""
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def command_or_404(build: Callable[[], C]) -> C:
    """A command built from ids in the path; an id that cannot be one names no page."""
    try:
        return build()
    except ValidationError:
        raise HTTPException(404, "There is no such page.") from None
