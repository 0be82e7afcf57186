"""Who sees what, and since when.

- GET  /accounts/{a}/members/{m}/visible-clients[?as_of=T]   the clients a member sees (then)
- GET  /accounts/{a}/members/{m}/clients/{c}                 may this member open this client
- POST /accounts/{a}/members/{m}/clients:check               which of these (<= 1,000) ids
- GET  /accounts/{a}/clients/{c}/members                     who sees a client, and why
- GET  /accounts/{a}/members/{m}/history, .../clients/{c}/history   grants and revokes
- GET  /accounts/{a}/access-matrix          every (member, client, reason), as JSON Lines
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from contracts.common import ID_PATTERN
from services.access_control import visibility
from services.access_control.openapi import OPENAPI
from services.access_control.store import AccessStore, key
from services.runtime.http import Request, Response, Route, route

_ID = re.compile(ID_PATTERN)
DEFAULT_LIMIT, MAX_LIMIT, MAX_CHECK = 100, 1000, 1000
JSON_LINES = "application/x-ndjson"


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.response = Response.error(status, message)


def _ids(request: Request, *names: str) -> list[str]:
    values = [request.path_params[name] for name in names]
    if not all(_ID.match(value) for value in values):
        raise BadRequest(404, "no such account, member or client")
    return values


def _limit(request: Request) -> int:
    try:
        limit = int(request.query.get("limit") or DEFAULT_LIMIT)
    except ValueError:
        raise BadRequest(400, "limit must be a whole number") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(400, f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def _time(request: Request, name: str) -> datetime | None:
    value = request.query.get(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(400, f"{name} must be an RFC 3339 timestamp") from None
    if moment.tzinfo is None:
        raise BadRequest(400, f"{name} must name its time zone (e.g. ...Z)")
    return moment


class VisibilityApi:
    def __init__(self, store: AccessStore) -> None:
        self.store = store

    async def visible_clients(self, request: Request) -> Response:
        account, member_id = _ids(request, "account_id", "member_id")
        limit, after = _limit(request), request.query.get("after") or None
        member = await self.store.members.get(key(account, member_id))
        if member is None:
            return Response.error(404, f"no member {member_id} in {account}")
        as_of = _time(request, "as_of")
        if as_of is not None:
            seen = await self.store.history.visible_as_of(account, member_id, as_of)
            clients = sorted(c for c in seen if after is None or c > after)[: limit + 1]
        else:
            scope = visibility.scope(member.facts)
            clients = await self.store.page_of_clients(account, scope, after, limit + 1)
        page, more = clients[:limit], len(clients) > limit
        return Response(
            200, {"member_id": member_id, "clients": page, "next": page[-1] if more else None}
        )

    async def client_visibility(self, request: Request) -> Response:
        account, member_id, client_id = _ids(request, "account_id", "member_id", "client_id")
        member = await self.store.members.get(key(account, member_id))
        if member is None:
            return Response.error(404, f"no member {member_id} in {account}")
        client = await self.store.clients.get(key(account, client_id))
        facts = None if client is None else client.facts
        seen = facts is not None and visibility.sees(member.facts, facts)
        return Response(200, {"visible": seen})

    async def check(self, request: Request) -> Response:
        account, member_id = _ids(request, "account_id", "member_id")
        try:
            asked = json.loads(request.body or b"null")["client_ids"]
        except (ValueError, TypeError, KeyError):
            return Response.error(400, 'the body must be {"client_ids": [...]}')
        if not isinstance(asked, list) or not all(isinstance(c, str) for c in asked):
            return Response.error(400, "client_ids must be a list of strings")
        if len(asked) > MAX_CHECK:
            return Response.error(400, f"at most {MAX_CHECK} client ids per check")
        member = await self.store.members.get(key(account, member_id))
        if member is None:
            return Response.error(404, f"no member {member_id} in {account}")
        scope = visibility.scope(member.facts)
        candidates = [] if scope.nothing else await self.store.clients_among(account, asked)
        visible = sorted(c.client_id for c in candidates if scope.includes(c))
        return Response(200, {"member_id": member_id, "visible": visible})

    async def audience(self, request: Request) -> Response:
        account, client_id = _ids(request, "account_id", "client_id")
        limit, after = _limit(request), request.query.get("after") or None
        client = await self.store.clients.get(key(account, client_id))
        facts = None if client is None else client.facts
        if facts is None:
            return Response.error(404, f"no client {client_id} in {account}")
        members = await self.store.audience(account, facts, after, limit + 1)
        rows = [
            {"member_id": m.member_id, **why.as_json()}
            for m in members
            if (why := visibility.why(m, facts)) is not None
        ]
        page, more = rows[:limit], len(members) > limit
        return Response(
            200,
            {
                "client_id": client_id,
                "members": page,
                "next": page[-1]["member_id"] if more else None,
            },
        )

    async def member_history(self, request: Request) -> Response:
        account, member_id = _ids(request, "account_id", "member_id")
        entries = await self.store.history.of_member(
            account, member_id, _time(request, "since"), _time(request, "until")
        )
        fields = ("at", "granted", "revoked", "reasons", "cause_id", "cause_type", "actor_id")
        rows = [{name: entry.get(name) for name in fields} for entry in entries]
        return Response(200, {"member_id": member_id, "entries": rows})

    async def client_history(self, request: Request) -> Response:
        account, client_id = _ids(request, "account_id", "client_id")
        entries = await self.store.history.of_client(
            account, client_id, _time(request, "since"), _time(request, "until")
        )
        return Response(200, {"client_id": client_id, "entries": entries})

    async def access_matrix(self, request: Request) -> Response:
        (account,) = _ids(request, "account_id")
        return Response(200, self.matrix_lines(account), JSON_LINES)

    async def matrix_lines(self, account: str) -> AsyncIterator[bytes]:
        """Member by member, a page of clients at a time: memory stays flat whatever the size."""
        for member in await self.store.all_members(account):
            scope = visibility.scope(member)
            after: str | None = None
            while not scope.nothing:
                clients = await self.store.page_of_client_facts(account, scope, after, 1000)
                lines = [
                    json.dumps(
                        {"member_id": member.member_id, "client_id": c.client_id, **why.as_json()}
                    )
                    + "\n"
                    for c in clients
                    if (why := visibility.why(member, c)) is not None
                ]
                if lines:
                    yield "".join(lines).encode()
                if len(clients) < 1000:
                    break
                after = clients[-1].client_id

    async def openapi(self, request: Request) -> Response:
        return Response(200, OPENAPI)

    def routes(self) -> list[Route]:
        def guarded(endpoint: Any) -> Any:
            async def call(request: Request) -> Response:
                try:
                    response: Response = await endpoint(request)
                except BadRequest as bad:
                    return bad.response
                return response

            return call

        member = "/accounts/{account_id}/members/{member_id}"
        client = "/accounts/{account_id}/clients/{client_id}"
        return [
            route(f"{member}/visible-clients", guarded(self.visible_clients)),
            route(f"{member}/clients/{{client_id}}", guarded(self.client_visibility)),
            route(f"{member}/clients:check", guarded(self.check), methods=("POST",)),
            route(f"{member}/history", guarded(self.member_history)),
            route(f"{client}/members", guarded(self.audience)),
            route(f"{client}/history", guarded(self.client_history)),
            route("/accounts/{account_id}/access-matrix", guarded(self.access_matrix)),
            route("/openapi.json", self.openapi, protected=False),
        ]
