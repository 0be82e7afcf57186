"""Every access_control command and membership event, over the in-memory unit of work."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from contracts.envelope import derived_id
from contracts.topics import ACCESS_CONTROL_COMMANDS, ACCESS_CONTROL_EVENTS, MEMBERSHIP_EVENTS
from services.access_control import visibility
from services.access_control.app import AccessControlService, wire
from services.access_control.repair import recompute
from services.access_control.settings import AccessControlSettings
from services.runtime.service import Runtime
from tests.handlers.kit import InMemory, in_memory

Access = InMemory[AccessControlService]


def service_with(settings: AccessControlSettings) -> Access:
    def wired(runtime: Runtime) -> AccessControlService:
        return wire(runtime, settings)

    return in_memory(
        "access_control", settings, wired, ACCESS_CONTROL_EVENTS, ACCESS_CONTROL_COMMANDS
    )


@pytest.fixture
async def access() -> Access:
    service = service_with(AccessControlSettings(projection_grace_seconds=0))
    await joined(service, "owner-1", ["owner"])
    return service


async def member_event(service: Access, type_: str, **data: Any) -> str:
    return await service.send(type_, data, topic=MEMBERSHIP_EVENTS, actor=None)


async def joined(service: Access, member: str, roles: list[str]) -> str:
    return await member_event(
        service,
        "MemberJoined",
        member_id=member,
        email=f"{member}@example.com",
        roles=roles,
        invitation_id=None,
        joined_at="2026-11-28T10:00:00Z",
    )


def changes(service: Access, cause: str) -> list[tuple[str, list[str], list[str]]]:
    return sorted(
        (e["data"]["member_id"], e["data"]["granted"], e["data"]["revoked"])
        for e in service.caused_by(cause)
        if e["type"] == "ClientVisibilityChanged"
    )


def view(service: Access) -> dict[str, set[str]]:
    seen: dict[str, set[str]] = {}
    for event in service.published():
        if event["type"] == "ClientVisibilityChanged":
            visibility.apply(seen, visibility.ClientVisibilityChanged(**event["data"]))
    return seen


async def test_clients_and_tags_move_only_the_answers_that_change(access: Access) -> None:
    await joined(access, "ann", ["practitioner"])
    await access.send("SetMemberSecurityTags", {"member_id": "ann", "security_tags": ["Kids"]})
    register = await access.send(
        "RegisterClient", {"client_id": "kid-1", "security_tags": [" kids "]}
    )
    assert changes(access, register) == [("ann", ["kid-1"], []), ("owner-1", ["kid-1"], [])]
    applied, event = access.caused_by(register)[:2]
    assert applied["type"] == "ClientRegistered"
    assert applied["data"] == {"client_id": "kid-1", "security_tags": ["kids"]}
    assert event["id"] == derived_id(register, "ClientVisibilityChanged", "ann", "0")
    plain = await access.send("RegisterClient", {"client_id": "adult-1"})
    assert changes(access, plain) == [("owner-1", ["adult-1"], [])]
    retag = await access.send(
        "SetClientSecurityTags", {"client_id": "adult-1", "security_tags": ["KIDS"]}
    )
    assert changes(access, retag) == [("ann", ["adult-1"], [])]
    removed = await access.send("RemoveClient", {"client_id": "kid-1"})
    assert changes(access, removed) == [("ann", [], ["kid-1"]), ("owner-1", [], ["kid-1"])]
    untag = await access.send("SetMemberSecurityTags", {"member_id": "ann", "security_tags": []})
    assert changes(access, untag) == []  # untagged ann sees all: only adult-1, seen already
    store = access.service.store
    assert view(access) == await recompute(store, "acct-1")


async def test_every_command_has_one_outcome_that_names_it(access: Access) -> None:
    """A command that changes nobody's visibility still answers: its acknowledgement comes
    first among the events it caused, and a redelivery answers again with the same event."""
    await joined(access, "ann", ["practitioner"])
    sent: list[tuple[str, dict[str, Any], str]] = [
        ("RegisterClient", {"client_id": "c1", "security_tags": ["vip"]}, "ClientRegistered"),
        (
            "SetClientSecurityTags",
            {"client_id": "c1", "security_tags": ["x"]},
            "ClientSecurityTagsSet",
        ),
        (
            "SetMemberSecurityTags",
            {"member_id": "ann", "security_tags": ["x"]},
            "MemberSecurityTagsSet",
        ),
        (
            "SetMemberSecurityTags",
            {"member_id": "bob", "security_tags": ["x"]},
            "MemberSecurityTagsSet",
        ),
        ("RemoveClient", {"client_id": "c1"}, "ClientRemoved"),
    ]
    for verb, data, outcome_type in sent:
        command = await access.send(verb, data)
        first = access.caused_by(command)[0]
        assert (first["type"], first["causationid"]) == (outcome_type, command)
        published = len(access.publisher.records)
        await access.send(verb, data, message_id=command)  # redelivered
        again = [json.loads(r.value) for r in access.publisher.records[published:]]
        assert [e["id"] for e in again] == [first["id"]], again  # the same answer, nothing new
    # changes of nobody's visibility: the acknowledgement is all
    again = await access.send("RegisterClient", {"client_id": "c2"})
    assert access.types(again) == ["ClientRegistered", "ClientVisibilityChanged"]  # owner-1's
    same = await access.send("SetClientSecurityTags", {"client_id": "c2", "security_tags": []})
    assert access.types(same) == ["ClientSecurityTagsSet"]


async def test_a_redelivered_rejected_command_is_answered_again(access: Access) -> None:
    command = await access.send("RemoveClient", {"client_id": "nobody"})
    first = access.outcome(command)
    await access.send("RemoveClient", {"client_id": "nobody"}, message_id=command)
    repeats = [
        e for e in access.publisher.messages(ACCESS_CONTROL_EVENTS) if e["id"] == first["id"]
    ]
    assert len(repeats) == 2 and repeats[1] == first


async def test_membership_events_grant_and_revoke(access: Access) -> None:
    await access.send("RegisterClient", {"client_id": "c1", "security_tags": ["a"]})
    await access.send("RegisterClient", {"client_id": "c2", "security_tags": ["b"]})
    await access.send("SetMemberSecurityTags", {"member_id": "bob", "security_tags": ["a"]})
    join = await joined(access, "bob", ["practitioner"])  # tags set before joining apply
    assert changes(access, join) == [("bob", ["c1"], [])]
    promoted = await member_event(
        access,
        "MemberRolesChanged",
        member_id="bob",
        roles=["administrator"],
        previous_roles=["practitioner"],
        changed_by="owner-1",
    )
    assert changes(access, promoted) == [("bob", ["c2"], [])]
    gone = await member_event(
        access,
        "MemberDisconnected",
        member_id="bob",
        email="bob@example.com",
        roles=["administrator"],
        disconnected_by="owner-1",
        disconnected_at="2026-11-28T11:00:00Z",
    )
    assert changes(access, gone) == [("bob", [], ["c1", "c2"])]
    assert view(access) == await recompute(access.service.store, "acct-1")


async def test_who_may_change_what(access: Access) -> None:
    await joined(access, "prac", ["practitioner"])
    await joined(access, "clients", ["client_administrator"])
    client = {"client_id": "c1", "security_tags": ["a"]}
    member_tags = {"member_id": "prac", "security_tags": ["a"]}
    for actor in ("prac", "stranger", None):
        assert (
            access.reason(await access.send("RegisterClient", client, actor=actor)) == "forbidden"
        )
    allowed = await access.send("RegisterClient", client, actor="clients")
    assert [member for member, _, _ in changes(access, allowed)] == ["clients", "owner-1", "prac"]
    refused = await access.send("SetMemberSecurityTags", member_tags, actor="clients")
    assert access.reason(refused) == "forbidden"
    ok = await access.send("SetMemberSecurityTags", member_tags, actor="owner-1")
    assert changes(access, ok) == []  # prac saw c1 without tags and still does


async def test_unknown_clients_are_not_found(access: Access) -> None:
    for verb, data in (
        ("SetClientSecurityTags", {"client_id": "nope", "security_tags": ["a"]}),
        ("RemoveClient", {"client_id": "nope"}),
    ):
        assert access.reason(await access.send(verb, data)) == "not_found"
    await access.send("RegisterClient", {"client_id": "c1"})
    await access.send("RemoveClient", {"client_id": "c1"})
    assert access.reason(await access.send("RemoveClient", {"client_id": "c1"})) == "not_found"
    again = await access.send("RegisterClient", {"client_id": "c1"})  # registering revives it
    assert changes(access, again) == [("owner-1", ["c1"], [])]


async def test_redelivery_changes_nothing_twice(access: Access) -> None:
    command = await access.send("RegisterClient", {"client_id": "c1"})
    await access.send("RegisterClient", {"client_id": "c1"}, message_id=command)
    event = await joined(access, "ann", ["practitioner"])
    await member_event(
        access,
        "MemberJoined",
        member_id="ann",
        email="ann@example.com",
        roles=["practitioner"],
        joined_at="2026-11-28T10:00:00Z",
    )
    assert access.types(command) == ["ClientRegistered", "ClientVisibilityChanged"]
    assert len(access.caused_by(event)) == 1
    assert access.reason(await access.send("RegisterClient", {"client_id": "bad id!"})) == "invalid"


async def test_a_client_change_after_a_member_change_failed_midway_sees_the_member_as_written(
    access: Access,
) -> None:
    """The account's members are kept in memory between client changes (`MembersView`). A
    member change whose write landed but whose publish failed is retried and then answered as
    applied; the kept members must not stay as they were before that write."""
    await joined(access, "ann", ["practitioner"])
    await access.send("RegisterClient", {"client_id": "c1", "security_tags": ["kids"]})
    publisher = access.publisher
    publish = publisher.publish
    outages = [ConnectionError("broker gone")]

    async def failing_once(records: Any) -> None:
        if outages:
            raise outages.pop()
        await publish(records)

    publisher.publish = failing_once  # type: ignore[method-assign]
    await access.send("SetMemberSecurityTags", {"member_id": "ann", "security_tags": ["kids"]})
    assert not outages
    retag = await access.send(
        "SetClientSecurityTags", {"client_id": "c1", "security_tags": ["sport"]}
    )
    assert changes(access, retag) == [("ann", [], ["c1"])]  # kids-only ann loses c1
    assert view(access) == await recompute(access.service.store, "acct-1")


async def written_elsewhere(access: Access, client_id: str, **fields: Any) -> None:
    """Another instance's write of the client (this one lost the account, then got it back
    without a change of partitions it saw): the stored document moves on."""
    await access.service.runtime.outbox.drain(patience=5)
    collection = access.service.store.clients.collection
    doc = await access.service.store.client("acct-1", client_id)
    assert doc is not None
    moved = {**doc, **fields, "outbox": [], "version": doc["version"] + 1}
    assert await collection.replace(moved, doc["version"])


async def test_a_client_written_elsewhere_since_it_was_kept_is_decided_from_the_database(
    access: Access,
) -> None:
    """A client's change starts from the client as this instance last wrote it, without a
    read. If it is no longer the stored one, the compare-and-set write fails and the change
    is decided again from the stored client."""
    await joined(access, "ann", ["practitioner"])
    await access.send("SetMemberSecurityTags", {"member_id": "ann", "security_tags": ["kids"]})
    await access.send("RegisterClient", {"client_id": "c1", "security_tags": ["sport"]})
    assert access.service.store.kept_clients.get("acct-1|c1") is not None
    await written_elsewhere(access, "c1", security_tags=["kids"], tags=["kids"])
    retag = await access.send(
        "SetClientSecurityTags", {"client_id": "c1", "security_tags": ["art"]}
    )
    assert changes(access, retag) == [("ann", [], ["c1"])]  # from kids, as stored: not sport
    assert (await access.service.store.client("acct-1", "c1") or {})["tags"] == ["art"]


async def test_a_refusal_from_a_kept_client_is_decided_again_from_the_database(
    access: Access,
) -> None:
    """A kept client decides an outcome only through a write that lands: the kept client says
    removed, the stored one was registered again elsewhere, so the change applies."""
    await access.send("RegisterClient", {"client_id": "c1"})
    await access.send("RemoveClient", {"client_id": "c1"})
    await written_elsewhere(access, "c1", removed=False, security_tags=["kids"], tags=["kids"])
    retag = await access.send(
        "SetClientSecurityTags", {"client_id": "c1", "security_tags": ["art"]}
    )
    assert access.types(retag)[0] == "ClientSecurityTagsSet"
    assert (await access.service.store.client("acct-1", "c1") or {})["tags"] == ["art"]


async def test_a_change_of_partitions_forgets_the_kept_members_and_clients(
    access: Access,
) -> None:
    await access.send("RegisterClient", {"client_id": "c1"})
    store = access.service.store
    assert (len(store.kept_members), len(store.kept_clients)) == (1, 1)  # owner-1 joined
    for hook in access.service.runtime.on_reassignment:  # what the consumers call on a rebalance
        hook()
    assert (len(store.kept_members), len(store.kept_clients)) == (0, 0)


async def test_a_command_whose_actor_is_joining_leaves_the_account_its_turn_meanwhile() -> None:
    """The command arrives a moment before the MemberJoined that makes its actor known (another
    topic, same account). Waiting inside the account's turn, it would keep that event from
    running until its grace ran out, and be refused `forbidden`; it gives the turn up while it
    waits, so the event runs and the command is applied. (The clock stands still here: the
    grace never runs out, so only the event can end the wait.)"""
    service = service_with(AccessControlSettings(projection_grace_seconds=5))
    async with asyncio.timeout(10):
        command = asyncio.create_task(
            service.send("RegisterClient", {"client_id": "c1", "security_tags": []}, actor="o-2")
        )
        await asyncio.sleep(0.2)  # the command has had its turn and found no actor
        assert not command.done()
        await joined(service, "o-2", ["owner"])
        command_id = await command
    assert service.types(command_id)[0] == "ClientRegistered"
