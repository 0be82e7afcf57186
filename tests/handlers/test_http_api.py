"""The HTTP APIs as a gateway sees them (FastAPI over the in-memory unit of work): OpenAPI 3.1
with typed responses, RFC 9457 problems, the Users page in pages, ETags on visible clients."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from contracts.topics import MEMBERSHIP_COMMANDS, MEMBERSHIP_EVENTS
from services.membership.app import wire
from services.runtime.settings import ServiceSettings
from tests.handlers.kit import InMemory, in_memory
from tests.handlers.test_access_audit import Access, joined, make
from tests.handlers.test_membership_handlers import invited, registration


async def call(
    service: InMemory[Any], method: str, path: str, token: str | None = None, **kwargs: Any
) -> httpx.Response:
    app = service.runtime.http_app()
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.request(method, path, headers=headers, **kwargs)


@pytest.fixture
async def membership() -> InMemory[Any]:
    settings = ServiceSettings(api_token=SecretStr("s3cret"))
    service = in_memory("membership", settings, wire, MEMBERSHIP_EVENTS, MEMBERSHIP_COMMANDS)
    await service.send("RegisterProAccount", registration("owner-1"))
    return service


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["type"].startswith("https://")
    assert body["title"] and body["detail"] and body["instance"]
    return dict(body)


async def test_errors_are_rfc9457_problems(membership: InMemory[Any]) -> None:
    unknown = assert_problem(await call(membership, "GET", "/nowhere", "s3cret"), 404)
    assert unknown["instance"] == "/nowhere"
    wrong_method = await call(membership, "DELETE", "/accounts/acct-1/users", "s3cret")
    assert "GET" in assert_problem(wrong_method, 405)["detail"]
    for token in (None, "wrong"):
        denied = await call(membership, "GET", "/accounts/acct-1/users", token)
        assert_problem(denied, 401)
        assert denied.headers["www-authenticate"] == "Bearer"
    bad_limit = await call(membership, "GET", "/accounts/acct-1/users?limit=0", "s3cret")
    assert "limit" in assert_problem(bad_limit, 400)["detail"]
    no_account = await call(membership, "GET", "/accounts/acct-x/users", "s3cret")
    assert_problem(no_account, 404)
    for open_path in ("/openapi.json", "/metrics"):  # no token needed
        assert (await call(membership, "GET", open_path)).status_code == 200


async def test_openapi_31_with_typed_responses(membership: InMemory[Any]) -> None:
    spec = (await call(membership, "GET", "/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    users = spec["paths"]["/accounts/{account_id}/users"]["get"]
    ok = users["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": "#/components/schemas/UsersPage"}
    assert {"401", "404"} <= set(users["responses"])
    assert {p["name"] for p in users["parameters"]} >= {"account_id", "status", "limit", "after"}
    row = spec["components"]["schemas"]["UserRow"]["properties"]
    assert all(prop.get("description") for prop in row.values())


async def test_the_users_page_comes_in_pages(membership: InMemory[Any]) -> None:
    emails = [f"p{i}@example.com" for i in range(7)]
    for email in reversed(emails):
        await invited(membership, email)
    seen: list[str] = []
    after = ""
    pages = 0
    while True:
        page = await call(
            membership, "GET", f"/accounts/acct-1/users?limit=3&after={after}", "s3cret"
        )
        body = page.json()
        assert len(body["users"]) <= 3
        seen += [row["email"] for row in body["users"]]
        pages += 1
        if body["next"] is None:
            break
        after = body["next"]
    assert seen == sorted([*emails, "owner-1@example.com"])  # each row once, email order
    assert pages == 3
    pending = await call(membership, "GET", "/accounts/acct-1/users?status=pending", "s3cret")
    assert len(pending.json()["users"]) == 7


@pytest.fixture
async def clinic() -> Access:
    service = make()
    await joined(service, "owner-1", ["owner"])
    await joined(service, "ann", ["practitioner"])
    await service.send("RegisterClient", {"client_id": "c1"})
    return service


async def test_visible_clients_carry_an_etag(clinic: Access) -> None:
    path = "/accounts/acct-1/members/ann/visible-clients"
    first = await call(clinic, "GET", path)
    tag = first.headers["etag"]
    assert first.json()["clients"] == ["c1"] and tag.startswith('"')
    again = await call(clinic, "GET", path, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.headers["etag"] == tag and again.content == b""
    await clinic.send("RegisterClient", {"client_id": "c2"})
    changed = await call(clinic, "GET", path, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    assert changed.json()["clients"] == ["c1", "c2"]


async def test_a_body_too_large_is_refused_before_it_is_read(clinic: Access) -> None:
    path = "/accounts/acct-1/members/ann/clients:check"
    response = await call(clinic, "POST", path, content=b"x" * 1_000_001)
    assert_problem(response, 413)
    ok = await call(clinic, "POST", path, json={"client_ids": ["c1", "nope"]})
    assert ok.json() == {"member_id": "ann", "visible": ["c1"]}
