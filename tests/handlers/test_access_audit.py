"""Access answers for audits, over the in-memory unit of work: who sees a client and why, a
1,000-id check, the history of grants and revokes with cause and actor, "as of" a moment, the
streamed matrix; and property tests tying every answer to the one visibility rule."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.common import format_time
from contracts.topics import ACCESS_CONTROL_COMMANDS, ACCESS_CONTROL_EVENTS, MEMBERSHIP_EVENTS
from services.access_control import visibility
from services.access_control.app import AccessControlService, wire
from services.access_control.repair import recompute
from services.access_control.settings import AccessControlSettings
from services.runtime.service import Runtime
from tests.handlers.kit import InMemory, in_memory

Access = InMemory[AccessControlService]


def make() -> Access:
    values = AccessControlSettings(projection_grace_seconds=0)

    def wired(runtime: Runtime) -> AccessControlService:
        return wire(runtime, values)

    return in_memory(
        "access_control", values, wired, ACCESS_CONTROL_EVENTS, ACCESS_CONTROL_COMMANDS
    )


async def joined(service: Access, member: str, roles: list[str]) -> str:
    return await service.send(
        "MemberJoined",
        {
            "member_id": member,
            "email": f"{member}@example.com",
            "roles": roles,
            "joined_at": "2026-11-28T10:00:00Z",
        },
        topic=MEMBERSHIP_EVENTS,
        actor=None,
    )


async def http(service: Access, method: str, path: str, body: Any = None) -> httpx.Response:
    app = service.runtime.http_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.request(method, path, json=body)


@pytest.fixture
async def clinic() -> Access:
    service = make()
    await joined(service, "owner-1", ["owner"])
    await joined(service, "ann", ["practitioner"])
    await joined(service, "bob", ["practitioner"])
    await joined(service, "cat", ["practitioner"])
    await service.send("SetMemberSecurityTags", {"member_id": "ann", "security_tags": ["Kids"]})
    await service.send("SetMemberSecurityTags", {"member_id": "bob", "security_tags": ["sport"]})
    for client, tags in (("kid-1", ["kids", "sport"]), ("adult-1", ["adults"])):
        await service.send("RegisterClient", {"client_id": client, "security_tags": tags})
    return service


async def test_who_sees_a_client_and_why(clinic: Access) -> None:
    response = await http(clinic, "GET", "/accounts/acct-1/clients/kid-1/members")
    assert response.json() == {
        "client_id": "kid-1",
        "members": [
            {"member_id": "ann", "reason": "tags", "tags": ["kids"]},
            {"member_id": "bob", "reason": "tags", "tags": ["sport"]},
            {"member_id": "cat", "reason": "untagged", "tags": []},
            {"member_id": "owner-1", "reason": "role", "tags": []},
        ],
        "next": None,
    }
    first = (await http(clinic, "GET", "/accounts/acct-1/clients/kid-1/members?limit=2")).json()
    assert [m["member_id"] for m in first["members"]] == ["ann", "bob"] and first["next"] == "bob"
    rest = await http(clinic, "GET", "/accounts/acct-1/clients/kid-1/members?limit=2&after=bob")
    assert [m["member_id"] for m in rest.json()["members"]] == ["cat", "owner-1"]
    missing = await http(clinic, "GET", "/accounts/acct-1/clients/nope/members")
    assert missing.status_code == 404


async def test_a_check_of_many_ids_in_one_call(clinic: Access) -> None:
    asked = {"client_ids": ["kid-1", "adult-1", "unknown", *[f"x{n}" for n in range(900)]]}
    answer = await http(clinic, "POST", "/accounts/acct-1/members/ann/clients:check", asked)
    assert answer.json() == {"member_id": "ann", "visible": ["kid-1"]}
    owner = await http(clinic, "POST", "/accounts/acct-1/members/owner-1/clients:check", asked)
    assert owner.json()["visible"] == ["adult-1", "kid-1"]
    too_many = {"client_ids": [f"x{n}" for n in range(1001)]}
    assert (
        await http(clinic, "POST", "/accounts/acct-1/members/ann/clients:check", too_many)
    ).status_code == 400
    assert (
        await http(clinic, "POST", "/accounts/acct-1/members/ann/clients:check", [1])
    ).status_code == 400
    assert (
        await http(clinic, "GET", "/accounts/acct-1/members/ann/clients:check")
    ).status_code == 405


async def test_history_names_time_cause_actor_and_reason(clinic: Access) -> None:
    clinic.clock.advance(timedelta(hours=1))
    before_retag = clinic.clock.now()
    clinic.clock.advance(timedelta(seconds=1))
    retag = await clinic.send(
        "SetClientSecurityTags", {"client_id": "kid-1", "security_tags": ["kids"]}, actor="owner-1"
    )
    entries = (await http(clinic, "GET", "/accounts/acct-1/clients/kid-1/history")).json()[
        "entries"
    ]
    assert [(e["member_id"], e["change"], e["reason"]) for e in entries] == [
        ("ann", "granted", "tags:kids"),
        ("bob", "granted", "tags:sport"),
        ("cat", "granted", "untagged"),
        ("owner-1", "granted", "role"),
        ("bob", "revoked", None),
    ]
    last = entries[-1]
    assert (last["cause_id"], last["cause_type"], last["actor_id"]) == (
        retag,
        "SetClientSecurityTags",
        "owner-1",
    )
    since = format_time(before_retag).replace("+", "%2B")
    recent = (
        await http(clinic, "GET", f"/accounts/acct-1/clients/kid-1/history?since={since}")
    ).json()
    assert len(recent["entries"]) == 1
    bob = (await http(clinic, "GET", "/accounts/acct-1/members/bob/history")).json()["entries"]
    assert [(e["granted"], e["revoked"]) for e in bob] == [(["kid-1"], []), ([], ["kid-1"])]
    then = await http(clinic, "GET", f"/accounts/acct-1/members/bob/visible-clients?as_of={since}")
    assert then.json()["clients"] == ["kid-1"]
    now = await http(clinic, "GET", "/accounts/acct-1/members/bob/visible-clients")
    assert now.json()["clients"] == []
    bad = await http(clinic, "GET", "/accounts/acct-1/members/bob/visible-clients?as_of=yesterday")
    assert bad.status_code == 400


class RecordsHeld:
    """The history collection, its writes held until released (a slow database)."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.collection, name)

    async def insert_all(self, docs: list[Any]) -> None:
        await self.release.wait()
        await self.collection.insert_all(docs)


async def test_history_waits_for_the_record_of_a_decision_already_published(
    clinic: Access,
) -> None:
    """A change's answer does not wait for its history record; the history does."""
    await clinic.runtime.outbox.drain(patience=5)  # the set-up's own records are written
    history = clinic.service.store.history
    held = RecordsHeld(history.collection)
    history.collection = held
    retag = await clinic.send(
        "SetClientSecurityTags", {"client_id": "kid-1", "security_tags": ["kids"]}
    )
    assert "ClientVisibilityChanged" in [e["type"] for e in clinic.caused_by(retag)]

    asked = asyncio.create_task(http(clinic, "GET", "/accounts/acct-1/members/bob/history"))
    await asyncio.sleep(0.05)
    assert not asked.done()
    held.release.set()
    bob = (await asyncio.wait_for(asked, timeout=5)).json()["entries"]
    assert [(e["granted"], e["revoked"]) for e in bob] == [(["kid-1"], []), ([], ["kid-1"])]


async def test_the_matrix_streams_every_pair_with_its_reason(clinic: Access) -> None:
    response = await http(clinic, "GET", "/accounts/acct-1/access-matrix")
    assert response.headers["content-type"] == "application/x-ndjson"
    rows = [json.loads(line) for line in response.text.splitlines()]
    pairs = {(r["member_id"], r["client_id"]): r["reason"] for r in rows}
    expected = await recompute(clinic.service.store, "acct-1")
    assert set(pairs) == {(m, c) for m, seen in expected.items() for c in seen}
    assert pairs[("ann", "kid-1")] == "tags" and pairs[("owner-1", "adult-1")] == "role"


async def test_the_api_describes_itself(clinic: Access) -> None:
    spec = (await http(clinic, "GET", "/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    assert "/accounts/{account_id}/members/{member_id}/clients:check" in spec["paths"]
    assert "/accounts/{account_id}/clients/{client_id}/members" in spec["paths"]


# ---- properties ---------------------------------------------------------------------------

MEMBERS = ["m1", "m2", "m3", "m4"]
CLIENTS = ["c1", "c2", "c3", "c4", "c5"]
TAGS = st.lists(st.sampled_from(["a", "b", "c"]), max_size=2, unique=True)
OPERATIONS = st.one_of(
    st.tuples(st.just("RegisterClient"), st.sampled_from(CLIENTS), TAGS),
    st.tuples(st.just("SetClientSecurityTags"), st.sampled_from(CLIENTS), TAGS),
    st.tuples(st.just("RemoveClient"), st.sampled_from(CLIENTS), st.just([])),
    st.tuples(st.just("SetMemberSecurityTags"), st.sampled_from(MEMBERS), TAGS),
    st.tuples(
        st.just("MemberJoined"),
        st.sampled_from(MEMBERS),
        st.sampled_from([["practitioner"], ["administrator"], ["client_administrator"]]),
    ),
    st.tuples(st.just("MemberDisconnected"), st.sampled_from(MEMBERS), st.just(["practitioner"])),
)


async def play(service: Access, operation: tuple[str, str, list[str]]) -> None:
    kind, target, values = operation
    if kind in ("RegisterClient", "SetClientSecurityTags"):
        await service.send(kind, {"client_id": target, "security_tags": values})
    elif kind == "RemoveClient":
        await service.send(kind, {"client_id": target})
    elif kind == "SetMemberSecurityTags":
        await service.send(kind, {"member_id": target, "security_tags": values})
    else:
        data: dict[str, Any] = {
            "member_id": target,
            "email": f"{target}@example.com",
            "roles": values,
        }
        if kind == "MemberJoined":
            data["joined_at"] = "2026-11-28T10:00:00Z"
        else:
            data.update(disconnected_by="owner-1", disconnected_at="2026-11-28T11:00:00Z")
        await service.send(kind, data, topic=MEMBERSHIP_EVENTS, actor=None)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(OPERATIONS, min_size=1, max_size=25))
async def test_every_answer_follows_the_one_rule_now_and_as_of_any_moment(
    operations: list[tuple[str, str, list[str]]],
) -> None:
    service = make()
    await joined(service, "owner-1", ["owner"])
    moments: list[tuple[str, dict[str, set[str]]]] = []
    for operation in operations:
        service.clock.advance(timedelta(seconds=1))
        await play(service, operation)
        view: dict[str, set[str]] = {}
        for event in service.published():
            if event["type"] == "ClientVisibilityChanged":
                visibility.apply(view, visibility.ClientVisibilityChanged(**event["data"]))
        moments.append((format_time(service.clock.now()), view))
    store = service.service.store
    truth = await recompute(store, "acct-1")
    members = {m.member_id: m for m in await store.all_members("acct-1")}
    for client in await store.all_clients("acct-1"):  # the reverse answer = the forward rule
        audience = await http(
            service, "GET", f"/accounts/acct-1/clients/{client.client_id}/members?limit=1000"
        )
        seen_by = {row["member_id"] for row in audience.json()["members"]}
        assert seen_by == {m for m, facts in members.items() if visibility.sees(facts, client)}
    for member in members:  # the history replayed = the current state
        entries = (await http(service, "GET", f"/accounts/acct-1/members/{member}/history")).json()
        replayed: set[str] = set()
        for entry in entries["entries"]:
            replayed.difference_update(entry["revoked"])
            replayed.update(entry["granted"])
        assert replayed == truth.get(member, set())
    for moment, view in moments:  # as of any moment = the events up to it
        stamp = moment.replace("+", "%2B")
        for member in members:
            then = await http(
                service,
                "GET",
                f"/accounts/acct-1/members/{member}/visible-clients?as_of={stamp}&limit=1000",
            )
            assert set(then.json()["clients"]) == view.get(member, set()), (moment, member)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(OPERATIONS, min_size=1, max_size=15))
async def test_each_read_answers_for_the_member_as_they_are_after_every_change(
    operations: list[tuple[str, str, list[str]]],
) -> None:
    """A member's page starts on the scope of their last page, a client's audience on the
    client's last tags (guesses): whatever changed in between, each page, check, single answer
    and audience is the one rule's for the member or client as now."""
    service = make()
    for member, roles in (("owner-1", ["owner"]), *((m, ["practitioner"]) for m in MEMBERS)):
        await joined(service, member, roles)  # each read from the start: each change moves a guess
    store = service.service.store
    app = service.runtime.http_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as api:
        for operation in operations:
            await play(service, operation)
            truth = await recompute(store, "acct-1")
            for member in ["owner-1", *MEMBERS]:
                path = f"/accounts/acct-1/members/{member}"
                page = await api.get(f"{path}/visible-clients?limit=1000")
                seen = truth.get(member, set())
                assert set(page.json()["clients"]) == seen, (operation, member)
                check = await api.post(f"{path}/clients:check", json={"client_ids": CLIENTS})
                assert set(check.json()["visible"]) == seen
                single = await api.get(f"{path}/clients/{CLIENTS[0]}")
                assert single.json()["visible"] == (CLIENTS[0] in seen)
            live = {client.client_id for client in await store.all_clients("acct-1")}
            for client_id in CLIENTS:
                who = await api.get(f"/accounts/acct-1/clients/{client_id}/members?limit=1000")
                if client_id not in live:
                    assert who.status_code == 404, who.text
                    continue
                audience = {row["member_id"] for row in who.json()["members"]}
                assert audience == {m for m, seen in truth.items() if client_id in seen}


async def test_a_page_after_the_member_changed_is_the_new_answer(clinic: Access) -> None:
    page = "/accounts/acct-1/members/ann/visible-clients"
    assert (await http(clinic, "GET", page)).json()["clients"] == ["kid-1"]
    await clinic.send("SetMemberSecurityTags", {"member_id": "ann", "security_tags": ["adults"]})
    assert (await http(clinic, "GET", page)).json()["clients"] == ["adult-1"]
    await clinic.send(
        "MemberDisconnected",
        {
            "member_id": "ann",
            "email": "ann@example.com",
            "roles": ["practitioner"],
            "disconnected_by": "owner-1",
            "disconnected_at": "2026-11-28T11:00:00Z",
        },
        topic=MEMBERSHIP_EVENTS,
        actor=None,
    )
    assert (await http(clinic, "GET", page)).json()["clients"] == []
    unknown = await http(clinic, "GET", "/accounts/acct-1/members/zed/visible-clients")
    assert unknown.status_code == 404


async def test_a_repair_is_recorded_with_its_reasons(clinic: Access) -> None:
    from services.access_control.repair import level_set, reasons_of, repair_record

    store = clinic.service.store
    visible = await recompute(store, "acct-1")
    everyone = {c.client_id for c in await store.all_clients("acct-1")}
    events = level_set("acct-1", visible, everyone, "run-1")
    clinic.clock.advance(timedelta(minutes=5))
    records = repair_record("acct-1", events, await reasons_of(store, "acct-1"), clinic.clock.now())
    await store.history.record(records)
    await store.history.record(records)  # a repair run twice records once
    ann = (await http(clinic, "GET", "/accounts/acct-1/members/ann/history")).json()["entries"]
    assert [e["cause_type"] for e in ann].count("Repair") == 1
    last = ann[-1]
    assert (last["cause_type"], last["cause_id"], last["granted"], last["revoked"]) == (
        "Repair",
        "run-1",
        ["kid-1"],
        ["adult-1"],
    )
    assert last["reasons"] == {"kid-1": "tags:kids"}
    replayed: set[str] = set()
    for entry in ann:
        replayed.difference_update(entry["revoked"])
        replayed.update(entry["granted"])
    assert replayed == visible["ann"]
