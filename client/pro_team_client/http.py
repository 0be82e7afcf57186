"""The services' HTTP APIs, typed: the Users page, a member's row and tags, the clients and
their tags, visible clients, the invitation look-up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

from contracts.http import (
    ClientRow,
    ClientsPage,
    InvitationLookup,
    LookupRequest,
    MemberTags,
    Problem,
    UserRow,
    UsersPage,
    UserStatus,
    VisibleClients,
)


class ApiProblem(Exception):
    """An HTTP API answered with an RFC 9457 problem."""

    def __init__(self, problem: Problem, retry_after: float | None = None) -> None:
        super().__init__(f"{problem.status} {problem.code}: {problem.detail}")
        self.problem = problem
        self.retry_after = retry_after


@dataclass(frozen=True)
class ServiceUrls:
    """Where each service's HTTP API answers (the local stack's defaults)."""

    invitations: str = "http://127.0.0.1:8101"
    membership: str = "http://127.0.0.1:8102"
    access_control: str = "http://127.0.0.1:8104"


class TeamApi:
    def __init__(
        self, urls: ServiceUrls | None = None, api_token: str = "", timeout: float = 10.0
    ) -> None:
        self.urls = urls or ServiceUrls()
        headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}
        self._http = httpx.AsyncClient(headers=headers, timeout=timeout)

    async def __aenter__(self) -> TeamApi:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response = await self._http.request(method, url, **kwargs)
        if response.status_code >= 400:
            try:
                problem = Problem.model_validate_json(response.content)
            except ValueError:
                problem = Problem(
                    type="about:blank",
                    title=response.reason_phrase,
                    status=response.status_code,
                    detail=response.text[:500],
                    instance=str(response.url.path),
                )
            retry = response.headers.get("retry-after")
            raise ApiProblem(problem, float(retry) if retry else None)
        return response

    # ---- membership ---------------------------------------------------------------------

    async def users_page(
        self,
        account_id: str,
        status: UserStatus | None = None,
        limit: int = 100,
        after: str | None = None,
        email: str | None = None,
    ) -> UsersPage:
        """A page of the Users page (`email`: only that person's row, if there is one)."""
        params: dict[str, Any] = {"limit": limit}
        if status is not None:
            params["status"] = status.value
        if after:
            params["after"] = after
        if email:
            params["email"] = email
        url = f"{self.urls.membership}/accounts/{account_id}/users"
        return UsersPage.model_validate_json((await self._call("GET", url, params=params)).content)

    async def users(
        self, account_id: str, status: UserStatus | None = None
    ) -> AsyncIterator[UserRow]:
        """Every row of the Users page, page after page (email order)."""
        after: str | None = None
        while True:
            page = await self.users_page(account_id, status, 1000, after)
            for row in page.users:
                yield row
            if page.next is None:
                return
            after = page.next

    async def member(self, account_id: str, member_id: str) -> UserRow | None:
        """A member's row (active or disconnected); None for someone who is not (yet) one."""
        url = f"{self.urls.membership}/accounts/{account_id}/members/{member_id}"
        response = await self._found("GET", url)
        return None if response is None else UserRow.model_validate_json(response.content)

    async def _found(self, method: str, url: str, **kwargs: Any) -> httpx.Response | None:
        """The answer, or None for a 404."""
        try:
            return await self._call(method, url, **kwargs)
        except ApiProblem as problem:
            if problem.problem.status == 404:
                return None
            raise

    # ---- access_control -----------------------------------------------------------------

    async def member_tags(self, account_id: str, member_id: str) -> list[str] | None:
        """A member's security tags; None for a member access control does not know."""
        url = f"{self.urls.access_control}/accounts/{account_id}/members/{member_id}"
        response = await self._found("GET", f"{url}/security-tags")
        if response is None:
            return None
        return MemberTags.model_validate_json(response.content).security_tags

    async def clients_page(
        self, account_id: str, limit: int = 100, after: str | None = None
    ) -> ClientsPage:
        params: dict[str, Any] = {"limit": limit} | ({"after": after} if after else {})
        url = f"{self.urls.access_control}/accounts/{account_id}/clients"
        return ClientsPage.model_validate_json(
            (await self._call("GET", url, params=params)).content
        )

    async def clients(self, account_id: str) -> AsyncIterator[ClientRow]:
        """Every client of the account with its tags, page after page (id order)."""
        after: str | None = None
        while True:
            page = await self.clients_page(account_id, 1000, after)
            for row in page.clients:
                yield row
            if page.next is None:
                return
            after = page.next

    async def visible_clients(self, account_id: str, member_id: str) -> list[str]:
        """Every client the member sees now, sorted ([] for a member access control does not
        know: nobody has told it they joined)."""
        url = f"{self.urls.access_control}/accounts/{account_id}/members/{member_id}"
        clients: list[str] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 1000} | ({"after": after} if after else {})
            try:
                response = await self._call("GET", f"{url}/visible-clients", params=params)
            except ApiProblem as problem:
                if problem.problem.status == 404 and not clients:
                    return []
                raise
            page = VisibleClients.model_validate_json(response.content)
            clients += page.clients
            if page.next is None:
                return clients
            after = page.next

    # ---- invitations --------------------------------------------------------------------

    async def look_up_invitation(
        self, account_id: str, invitation_id: str, token: str
    ) -> InvitationLookup | None:
        """What an accept link invites to; None for a link that is not (or no longer) valid.
        ApiProblem (429, with `retry_after`) when the invitation was looked up too often."""
        url = f"{self.urls.invitations}/accounts/{account_id}/invitations/{invitation_id}/lookup"
        body = LookupRequest(token=token).model_dump()
        try:
            response = await self._call("POST", url, json=body)
        except ApiProblem as problem:
            if problem.problem.code == "invalid_token":
                return None
            raise
        return InvitationLookup.model_validate_json(response.content)
