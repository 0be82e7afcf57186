"""The audit answers on the real stack (FerretDB's `$or`, empty-array and multikey queries;
the history written by the outbox relay's local sink)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import httpx

from contracts.common import format_time, utc_now
from services.access_control.domain import Client
from services.access_control.history import INDEXES, RETIRED_INDEXES, Because
from services.access_control.store import ClientCodec
from tests.services.access_control.conftest import AccessHarness


async def get(access: AccessHarness, method: str, path: str, body: Any = None) -> httpx.Response:
    app = access.service.runtime.http_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.request(method, path, json=body)


async def test_who_sees_checks_history_as_of_and_the_matrix(access: AccessHarness) -> None:
    account = access.account()
    await access.joined(account, "owner-1", ["owner"])
    await access.joined(account, "ann", ["practitioner"])
    await access.joined(account, "cat", ["practitioner"])
    await access.ok(
        "SetMemberSecurityTags", account, {"member_id": "ann", "security_tags": ["kids"]}
    )
    await access.ok("RegisterClient", account, {"client_id": "kid-1", "security_tags": ["Kids"]})
    await access.ok("RegisterClient", account, {"client_id": "adult-1", "security_tags": ["x"]})
    before = format_time(utc_now()).replace("+", "%2B")
    await access.ok(
        "SetClientSecurityTags", account, {"client_id": "kid-1", "security_tags": ["x"]}
    )

    who = (await get(access, "GET", f"/accounts/{account}/clients/adult-1/members")).json()
    assert [(m["member_id"], m["reason"]) for m in who["members"]] == [
        ("cat", "untagged"),
        ("owner-1", "role"),
    ]
    await access.ok("RegisterClient", account, {"client_id": "gone-1", "security_tags": []})
    await access.ok("RemoveClient", account, {"client_id": "gone-1"})
    elsewhere = access.account("b")
    await access.joined(elsewhere, "owner-1", ["owner"])
    await access.ok("RegisterClient", elsewhere, {"client_id": "other-1", "security_tags": []})
    asked = {"client_ids": ["kid-1", "adult-1", "nope", "gone-1", "other-1"]}
    check = await get(access, "POST", f"/accounts/{account}/members/cat/clients:check", asked)
    assert check.json()["visible"] == ["adult-1", "kid-1"]  # not removed, not another account's
    history = (await get(access, "GET", f"/accounts/{account}/clients/kid-1/history")).json()
    changes = [(e["member_id"], e["change"]) for e in history["entries"]]
    assert ("ann", "granted") in changes and changes[-1] == ("ann", "revoked")
    assert history["entries"][-1]["cause_type"] == "SetClientSecurityTags"
    then = await get(
        access, "GET", f"/accounts/{account}/members/ann/visible-clients?as_of={before}"
    )
    assert then.json()["clients"] == ["kid-1"]
    now = await get(access, "GET", f"/accounts/{account}/members/ann/visible-clients")
    assert now.json()["clients"] == []
    matrix = await get(access, "GET", f"/accounts/{account}/access-matrix")
    rows = {(r["member_id"], r["client_id"]) for r in map(json.loads, matrix.text.splitlines())}
    assert rows == {
        ("cat", "adult-1"),
        ("cat", "kid-1"),
        ("owner-1", "adult-1"),
        ("owner-1", "kid-1"),
    }


async def test_a_check_of_the_most_ids_answers_for_every_one_of_them(access: AccessHarness) -> None:
    """1,000 ids are read in one batch; none may be left out (a server's default first batch
    stops at 101 documents)."""
    account = access.account()
    await access.joined(account, "owner-1", ["owner"])
    await access.joined(account, "ann", ["practitioner"])
    await access.ok(
        "SetMemberSecurityTags", account, {"member_id": "ann", "security_tags": ["kids"]}
    )
    codec, clients = ClientCodec(), access.service.store.clients.collection
    tagged = {n: ["kids"] if n % 3 else ["adults"] for n in range(1000)}
    await clients.insert_all(
        [
            {"_id": codec.key(c), **codec.encode(c), "version": 1, "outbox": []}
            for c in (Client(account, f"c{n:04d}", tuple(tags)) for n, tags in tagged.items())
        ]
    )
    asked = {"client_ids": [f"c{n:04d}" for n in tagged]}
    check = await get(access, "POST", f"/accounts/{account}/members/ann/clients:check", asked)
    assert check.status_code == 200, check.text
    assert check.json()["visible"] == [
        f"c{n:04d}" for n, tags in tagged.items() if tags == ["kids"]
    ]


async def test_a_history_of_the_retired_shape_is_converted_at_start(access: AccessHarness) -> None:
    """A database the earlier version wrote (a document per member's entry, three indexes):
    the start converts its records and drops their indexes; the history answers as before, next
    to records of the current shape; a second start finds nothing to do."""
    account = access.account()
    history = access.service.store.history
    raw = history.collection.raw  # type: ignore[attr-defined]
    for index in RETIRED_INDEXES:
        await raw.create_index([(field, 1) for field in index.fields])
    at = utc_now() - timedelta(hours=1)
    because = Because("SetClientSecurityTags", "owner-1", at)

    def old(n: int, member: str, granted: list[str], revoked: list[str]) -> dict[str, Any]:
        reasons = {client: "tags:kids" for client in granted}
        return {
            "_id": f"old-{n}",
            "account_id": account,
            "cause_id": f"cmd-{n}",
            "member_id": member,
            "granted": granted,
            "revoked": revoked,
            "reasons": reasons,
            "cause_type": because.cause_type,
            "actor_id": because.actor_id,
            "at": at + timedelta(seconds=n),
            "seq": because.seq * 1000 + n,
        }

    await raw.insert_many(
        [old(1, "ann", ["kid-1"], []), old(2, "cat", ["kid-1"], []), old(3, "ann", [], ["kid-1"])]
    )
    elsewhere = [{**old(n, "bob", [f"c{n}"], []), "account_id": "other"} for n in range(4, 1504)]
    await raw.insert_many(elsewhere)  # more than one page of the conversion's walk
    await history.upgrade()
    assert await raw.count_documents({"entries": {"$exists": False}}) == 0
    names = {tuple(info["key"]) async for info in await raw.list_indexes()}
    assert not names & {index.fields for index in RETIRED_INDEXES}
    assert {index.fields for index in INDEXES} <= names

    await access.joined(account, "owner-1", ["owner"])
    await access.joined(account, "ann", ["practitioner"])
    await access.ok("RegisterClient", account, {"client_id": "kid-1", "security_tags": []})
    ann = (await get(access, "GET", f"/accounts/{account}/members/ann/history")).json()
    assert [(e["granted"], e["revoked"], e["cause_id"]) for e in ann["entries"]][:3] == [
        (["kid-1"], [], "cmd-1"),
        ([], ["kid-1"], "cmd-3"),
        (["kid-1"], [], ann["entries"][2]["cause_id"]),
    ]
    assert ann["entries"][0]["reasons"] == {"kid-1": "tags:kids"}
    assert ann["entries"][2]["cause_type"] == "RegisterClient"
    kid = (await get(access, "GET", f"/accounts/{account}/clients/kid-1/history")).json()
    assert [(e["member_id"], e["change"], e["reason"]) for e in kid["entries"]][:3] == [
        ("ann", "granted", "tags:kids"),
        ("cat", "granted", "tags:kids"),
        ("ann", "revoked", None),
    ]
    converted = await raw.find_one({"_id": "old-1"})
    await history.upgrade()  # a second start: no retired index, nothing read or written
    assert await raw.find_one({"_id": "old-1"}) == converted
