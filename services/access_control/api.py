"""Who sees what, and since when.

- GET  /accounts/{a}/members/{m}/visible-clients[?as_of=T]   the clients a member sees (then)
- GET  /accounts/{a}/members/{m}/clients/{c}                 may this member open this client
- POST /accounts/{a}/members/{m}/clients:check               which of these (<= 1,000) ids
- GET  /accounts/{a}/clients/{c}/members                     who sees a client, and why
- GET  /accounts/{a}/members/{m}/history, .../clients/{c}/history   grants and revokes
- GET  /accounts/{a}/members/{m}/security-tags                a member's tags
- GET  /accounts/{a}/clients                                 the clients and their tags
- GET  /accounts/{a}/access-matrix          every (member, client, reason), as JSON Lines
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator, Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response, StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field

from contracts.common import ID_PATTERN
from contracts.http import ClientRow, ClientsPage, MemberTags, VisibleClients
from services.access_control import visibility
from services.access_control.store import AccessStore
from services.runtime.http import ApiError
from services.runtime.speculation import RecentGuesses, read_on_a_guess

_ID = re.compile(ID_PATTERN)
DEFAULT_LIMIT, MAX_LIMIT, MAX_CHECK = 100, 1000, 1000
JSON_LINES = "application/x-ndjson"

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")]
After = Annotated[str | None, Query(max_length=64, description="The `next` of the last page.")]
Since = Annotated[AwareDatetime | None, Query(description="From this time (RFC 3339).")]
Until = Annotated[AwareDatetime | None, Query(description="Up to this time (RFC 3339).")]


class Visible(BaseModel):
    visible: bool = Field(description="Whether the member may open the client now.")


class CheckRequest(BaseModel):
    client_ids: list[str] = Field(max_length=MAX_CHECK, description="Up to 1,000 client ids.")


class CheckAnswer(BaseModel):
    member_id: str = Field(description="The member asked about.")
    visible: list[str] = Field(description="The ids among those asked that the member sees.")


class Why(BaseModel):
    member_id: str = Field(description="A member who sees the client.")
    reason: str = Field(description="`role` (owner/administrator), `untagged` or `tags`.")
    tags: list[str] = Field(description="The tags they share with the client (`tags` reason).")


class Audience(BaseModel):
    client_id: str = Field(description="The client asked about.")
    members: list[Why] = Field(description="A page of the members who see it, sorted.")
    next: str | None = Field(description="Pass as `after` for the next page; null at the end.")


class MemberHistory(BaseModel):
    member_id: str = Field(description="The member asked about.")
    entries: list[dict[str, Any]] = Field(description="Grants and revokes, oldest first.")


class ClientHistory(BaseModel):
    client_id: str = Field(description="The client asked about.")
    entries: list[dict[str, Any]] = Field(description="Grants and revokes, oldest first.")


def _ids(*values: str) -> None:
    if not all(_ID.match(value) for value in values):
        raise ApiError(404, "no such account, member or client")


def etag_of(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _with_etag(document: BaseModel, if_none_match: str | None) -> Response:
    """The page with a strong ETag of its bytes; 304 when the client holds it already."""
    body = document.model_dump_json().encode()
    tag = etag_of(body)
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    if if_none_match is not None and tag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=304, headers=headers)
    return Response(body, 200, headers=headers, media_type="application/json")


def router(store: AccessStore) -> APIRouter:
    api = APIRouter(tags=["visibility"])
    member = "/accounts/{account_id}/members/{member_id}"
    client = "/accounts/{account_id}/clients/{client_id}"
    # what each member's last page, and each client's last audience, was read for: the next
    # read starts with it while the member or client is read again (`speculation.py`)
    scopes: RecentGuesses[visibility.Scope] = RecentGuesses()
    clients_seen: RecentGuesses[visibility.ClientFacts] = RecentGuesses()

    async def known_member(account_id: str, member_id: str) -> visibility.MemberFacts:
        _ids(account_id, member_id)
        found = await store.member_state(account_id, member_id)
        if found is None:
            raise ApiError(404, f"no member {member_id} in {account_id}")
        return found.facts

    async def scope_of(account_id: str, member_id: str) -> visibility.Scope:
        return visibility.scope(await known_member(account_id, member_id))

    @api.get(
        f"{member}/visible-clients",
        response_model=VisibleClients,
        summary="The clients a member sees, sorted, a page at a time (as_of: then). "
        "Answers with an ETag; If-None-Match gives 304 when unchanged.",
        responses={304: {"description": "Not modified"}},
    )
    async def visible_clients(
        account_id: str,
        member_id: str,
        limit: Limit = DEFAULT_LIMIT,
        after: After = None,
        as_of: Since = None,
        if_none_match: Annotated[str | None, Header()] = None,
    ) -> Response:
        # the ids are checked by `known_member` on both paths: a guess is kept only for ids
        # that passed it, so no read starts on unchecked ones
        if as_of is not None:
            await known_member(account_id, member_id)
            seen = await store.history.visible_as_of(account_id, member_id, as_of)
            clients = sorted(c for c in seen if after is None or c > after)[: limit + 1]
        else:

            def page_for(scope: visibility.Scope) -> Awaitable[list[str]]:
                return store.page_of_clients(account_id, scope, after, limit + 1)

            asked = (account_id, member_id)
            scope, clients = await read_on_a_guess(
                scopes.get(asked), scope_of(account_id, member_id), page_for
            )
            scopes.remember(asked, scope)
        page, more = clients[:limit], len(clients) > limit
        document = VisibleClients(
            member_id=member_id, clients=page, next=page[-1] if more else None
        )
        return _with_etag(document, if_none_match)

    @api.get(f"{member}/security-tags", response_model=MemberTags)
    async def member_tags(account_id: str, member_id: str) -> MemberTags:
        """A member's security tags, as written."""
        _ids(account_id, member_id)
        found = await store.member_state(account_id, member_id)
        if found is None:
            raise ApiError(404, f"no member {member_id} in {account_id}")
        return MemberTags(member_id=member_id, security_tags=list(found.security_tags))

    @api.get("/accounts/{account_id}/clients", response_model=ClientsPage)
    async def clients(
        account_id: str, limit: Limit = DEFAULT_LIMIT, after: After = None
    ) -> ClientsPage:
        """The account's clients with their tags, by id, a page at a time."""
        _ids(account_id)
        found = await store.page_of_client_records(account_id, after, limit + 1)
        page, more = found[:limit], len(found) > limit
        rows = [ClientRow(client_id=c.client_id, security_tags=list(c.security_tags)) for c in page]
        return ClientsPage(clients=rows, next=page[-1].client_id if more else None)

    @api.get(f"{member}/clients/{{client_id}}", response_model=Visible)
    async def client_visibility(account_id: str, member_id: str, client_id: str) -> Visible:
        """May this member open this client."""
        _ids(account_id, member_id, client_id)
        facts, client_facts = await asyncio.gather(  # neither read needs the other
            known_member(account_id, member_id), store.client_facts(account_id, client_id)
        )
        return Visible(visible=client_facts is not None and visibility.sees(facts, client_facts))

    @api.post(f"{member}/clients:check", response_model=CheckAnswer)
    async def check(account_id: str, member_id: str, asked: CheckRequest) -> CheckAnswer:
        """Which of up to 1,000 client ids this member may open."""
        _ids(account_id, member_id)
        scope, candidates = await asyncio.gather(  # the ids asked do not depend on the member
            scope_of(account_id, member_id), store.clients_among(account_id, asked.client_ids)
        )
        visible = sorted(c.client_id for c in candidates if scope.includes(c))
        return CheckAnswer(member_id=member_id, visible=visible)

    @api.get(f"{client}/members", response_model=Audience)
    async def audience(
        account_id: str, client_id: str, limit: Limit = DEFAULT_LIMIT, after: After = None
    ) -> Audience:
        """The members who see a client, sorted, each with the reason."""
        _ids(account_id, client_id)

        async def known_client() -> visibility.ClientFacts:
            found = await store.client_facts(account_id, client_id)
            if found is None:
                raise ApiError(404, f"no client {client_id} in {account_id}")
            return found

        def audience_of(client: visibility.ClientFacts) -> Awaitable[list[visibility.MemberFacts]]:
            return store.audience(account_id, client, after, limit + 1)

        asked = (account_id, client_id)
        facts, members = await read_on_a_guess(clients_seen.get(asked), known_client(), audience_of)
        clients_seen.remember(asked, facts)
        rows = [
            Why(member_id=m.member_id, **why.as_json())
            for m in members
            if (why := visibility.why(m, facts)) is not None
        ]
        page, more = rows[:limit], len(members) > limit
        return Audience(
            client_id=client_id, members=page, next=page[-1].member_id if more else None
        )

    @api.get(f"{member}/history", response_model=MemberHistory)
    async def member_history(
        account_id: str, member_id: str, since: Since = None, until: Until = None
    ) -> MemberHistory:
        """Every grant and revoke of a member, oldest first."""
        _ids(account_id, member_id)
        entries = await store.history.of_member(account_id, member_id, since, until)
        fields = ("at", "granted", "revoked", "reasons", "cause_id", "cause_type", "actor_id")
        rows = [{name: entry.get(name) for name in fields} for entry in entries]
        return MemberHistory(member_id=member_id, entries=rows)

    @api.get(f"{client}/history", response_model=ClientHistory)
    async def client_history(
        account_id: str, client_id: str, since: Since = None, until: Until = None
    ) -> ClientHistory:
        """Every grant and revoke of a client, oldest first."""
        _ids(account_id, client_id)
        entries = await store.history.of_client(account_id, client_id, since, until)
        return ClientHistory(client_id=client_id, entries=entries)

    @api.get(
        "/accounts/{account_id}/access-matrix",
        response_class=StreamingResponse,
        responses={200: {"content": {JSON_LINES: {}}, "description": "One JSON object a line"}},
    )
    async def access_matrix(account_id: str) -> StreamingResponse:
        """Every (member, client, reason) of the account, streamed as JSON Lines."""
        _ids(account_id)
        return StreamingResponse(matrix_lines(store, account_id), media_type=JSON_LINES)

    return api


async def matrix_lines(store: AccessStore, account: str) -> AsyncIterator[bytes]:
    """Member by member, a page of clients at a time: memory stays flat whatever the size."""
    for member in await store.all_members(account):
        scope = visibility.scope(member)
        after: str | None = None
        while not scope.nothing:
            clients = await store.page_of_client_facts(account, scope, after, 1000)
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
