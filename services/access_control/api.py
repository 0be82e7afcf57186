"""Who sees what: GET /accounts/{a}/members/{m}/visible-clients and .../clients/{c}."""

from __future__ import annotations

import re

from contracts.common import ID_PATTERN
from services.access_control import visibility
from services.access_control.store import AccessStore, key
from services.runtime.http import Request, Response, Route, route

_ID = re.compile(ID_PATTERN)
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


class VisibilityApi:
    def __init__(self, store: AccessStore) -> None:
        self.store = store

    async def visible_clients(self, request: Request) -> Response:
        account, member_id = request.path_params["account_id"], request.path_params["member_id"]
        if not (_ID.match(account) and _ID.match(member_id)):
            return Response.error(404, "no such member")
        try:
            limit = int(request.query.get("limit") or DEFAULT_LIMIT)
        except ValueError:
            return Response.error(400, "limit must be a whole number")
        if not 1 <= limit <= MAX_LIMIT:
            return Response.error(400, f"limit must be between 1 and {MAX_LIMIT}")
        after = request.query.get("after") or None
        member = await self.store.members.get(key(account, member_id))
        if member is None:
            return Response.error(404, f"no member {member_id} in {account}")
        scope = visibility.scope(member.facts)
        clients = await self.store.page_of_clients(account, scope, after, limit + 1)
        page, more = clients[:limit], len(clients) > limit
        return Response(
            200, {"member_id": member_id, "clients": page, "next": page[-1] if more else None}
        )

    async def client_visibility(self, request: Request) -> Response:
        params = request.path_params
        account, member_id, client_id = (
            params["account_id"],
            params["member_id"],
            params["client_id"],
        )
        if not all(_ID.match(v) for v in (account, member_id, client_id)):
            return Response.error(404, "no such member or client")
        member = await self.store.members.get(key(account, member_id))
        if member is None:
            return Response.error(404, f"no member {member_id} in {account}")
        client = await self.store.clients.get(key(account, client_id))
        facts = None if client is None else client.facts
        seen = facts is not None and visibility.sees(member.facts, facts)
        return Response(200, {"visible": seen})

    def routes(self) -> list[Route]:
        return [
            route(
                "/accounts/{account_id}/members/{member_id}/visible-clients", self.visible_clients
            ),
            route(
                "/accounts/{account_id}/members/{member_id}/clients/{client_id}",
                self.client_visibility,
            ),
        ]
