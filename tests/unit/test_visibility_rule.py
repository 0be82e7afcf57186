"""The visibility rule's table, and property tests of the incremental path."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.access_control.visibility import (
    ClientFacts,
    MemberFacts,
    apply,
    diff_for_client,
    diff_for_member,
    fold,
    full_recompute,
    members_concerned,
    messages,
    sees,
    tags_that_may_change,
)

DIABETES = ClientFacts("c-1", fold(["Diabetes"]))
KIDS = ClientFacts("c-2", fold(["kids"]))
UNTAGGED = ClientFacts("c-3")


@pytest.mark.parametrize(
    ("member", "expected"),
    [
        (MemberFacts("owner", True, frozenset({"owner"}), fold(["kids"])), {"c-1", "c-2", "c-3"}),
        (
            MemberFacts("admin", True, frozenset({"administrator"}), fold(["x"])),
            {"c-1", "c-2", "c-3"},
        ),
        (MemberFacts("p", True, frozenset({"practitioner"})), {"c-1", "c-2", "c-3"}),
        (MemberFacts("p", True, frozenset({"practitioner"}), fold(["DIABETES"])), {"c-1"}),
        (
            MemberFacts("p", True, frozenset({"client_administrator"}), fold(["Kids", "diabetes"])),
            {"c-1", "c-2"},
        ),
        (MemberFacts("p", True, frozenset({"practitioner"}), fold(["other"])), set()),
        (MemberFacts("pending", False, frozenset({"practitioner"})), set()),
        (MemberFacts("gone", False, frozenset({"administrator"})), set()),
    ],
)
def test_the_rule_table(member: MemberFacts, expected: set[str]) -> None:
    assert {c.client_id for c in (DIABETES, KIDS, UNTAGGED) if sees(member, c)} == expected


def test_more_than_1000_ids_go_in_further_messages_and_nothing_is_sent_for_no_change() -> None:
    member = MemberFacts("m", True, frozenset({"practitioner"}), fold(["t"]))
    clients = [ClientFacts(f"c{i:04d}") for i in range(2500)]
    change = diff_for_member(member, replace(member, tags=frozenset()), clients)
    sent = messages("m", change)
    assert [len(m.granted) for m in sent] == [1000, 1000, 500]
    assert messages("m", diff_for_member(member, member, clients)) == []


# ---- property tests ---------------------------------------------------------------------------

TAGS = st.lists(st.sampled_from(["Kids", "kids", "Diabetes", "Sport", "x"]), max_size=3)
ROLES = st.sets(
    st.sampled_from(
        ["practitioner", "administrator", "client_administrator", "billing_administrator"]
    ),
    min_size=1,
    max_size=2,
)
MEMBERS = st.sampled_from(["m1", "m2", "m3"])
CLIENTS = st.sampled_from(["c1", "c2", "c3", "c4"])

membership_op = st.one_of(
    st.tuples(st.just("join"), MEMBERS, ROLES),
    st.tuples(st.just("roles"), MEMBERS, ROLES),
    st.tuples(st.just("disconnect"), MEMBERS, st.just(frozenset())),
)
tag_op = st.one_of(
    st.tuples(st.just("register"), CLIENTS, TAGS),
    st.tuples(st.just("client_tags"), CLIENTS, TAGS),
    st.tuples(st.just("remove"), CLIENTS, st.just([])),
    st.tuples(st.just("member_tags"), MEMBERS, TAGS),
)


class Model:
    """Facts as the service stores them, events as downstream receives them."""

    def __init__(self) -> None:
        self.members: dict[str, dict] = {}
        self.clients: dict[str, ClientFacts] = {}
        self.downstream: dict[str, set[str]] = {}

    def facts(self, member_id: str) -> MemberFacts:
        raw = self.members.get(member_id, {})
        return MemberFacts(
            member_id,
            raw.get("status") == "active",
            frozenset(raw.get("roles", ())),
            frozenset(raw.get("tags", ())),
        )

    def member_change(self, member_id: str, fields: dict) -> None:
        old = self.facts(member_id)
        self.members.setdefault(member_id, {}).update(fields)
        new = self.facts(member_id)
        # as the service does: only the clients whose answer the change may move are read
        tags = tags_that_may_change(old, new)
        candidates = [c for c in self.clients.values() if tags is None or c.tags & tags]
        for message in messages(member_id, diff_for_member(old, new, candidates)):
            apply(self.downstream, message)

    def client_change(self, client_id: str, new: ClientFacts | None, must_exist: bool) -> None:
        old = self.clients.get(client_id)
        if must_exist and old is None:
            return  # not_found
        all_members = [self.facts(m) for m in self.members]
        candidates = members_concerned(all_members, old, new)
        for member_id, change in diff_for_client(candidates, old, new).items():
            for message in messages(member_id, change):
                apply(self.downstream, message)
        if new is None:
            self.clients.pop(client_id, None)
        else:
            self.clients[client_id] = new

    def run(self, op: tuple) -> None:
        kind, target, arg = op
        if kind == "join":
            self.member_change(target, {"status": "active", "roles": set(arg)})
        elif kind == "roles":
            self.member_change(target, {"roles": set(arg)})
        elif kind == "disconnect":
            self.member_change(target, {"status": "disconnected"})
        elif kind == "member_tags":
            self.member_change(target, {"tags": fold(arg)})
        elif kind == "register":
            self.client_change(target, ClientFacts(target, fold(arg)), must_exist=False)
        elif kind == "client_tags":
            self.client_change(target, ClientFacts(target, fold(arg)), must_exist=True)
        elif kind == "remove":
            self.client_change(target, None, must_exist=True)

    def recompute(self) -> dict[str, set[str]]:
        return full_recompute([self.facts(m) for m in self.members], self.clients.values())


def brute_force(model: Model) -> dict[str, set[str]]:
    """The rule restated independently, straight from its plain-language statement."""
    result = {}
    for member_id, raw in model.members.items():
        visible = set()
        for client in model.clients.values():
            if raw.get("status") != "active":
                continue
            roles = raw.get("roles", set())
            member_tags = {t.lower() for t in raw.get("tags", set())}
            sees_all = "owner" in roles or "administrator" in roles or not member_tags
            if sees_all or member_tags & {t.lower() for t in client.tags}:
                visible.add(client.client_id)
        result[member_id] = visible
    return result


def interleave(first: list, second: list, choices: list[bool]) -> list:
    a, b, merged = list(first), list(second), []
    for pick_first in choices:
        if pick_first and a:
            merged.append(a.pop(0))
        elif b:
            merged.append(b.pop(0))
    return merged + a + b


@settings(max_examples=300, deadline=None)
@given(
    st.lists(membership_op, max_size=12),
    st.lists(tag_op, max_size=12),
    st.lists(st.booleans(), max_size=30),
    st.lists(st.booleans(), max_size=30),
)
def test_incremental_equals_recompute_equals_rule_in_any_interleaving(
    membership_ops: list, tag_ops: list, order_a: list[bool], order_b: list[bool]
) -> None:
    results = []
    for order in (order_a, order_b):
        model = Model()
        for op in interleave(membership_ops, tag_ops, order):
            model.run(op)
        recomputed = model.recompute()
        assert recomputed == brute_force(model)
        replayed = {m: model.downstream.get(m, set()) for m in recomputed}
        assert replayed == recomputed  # the events, replayed from empty, give the same sets
        results.append(recomputed)
    assert results[0] == results[1]  # arrival order across the two topics does not matter


MEMBER_FACTS = st.builds(
    MemberFacts,
    st.just("m"),
    st.booleans(),
    ROLES.map(frozenset),
    TAGS.map(fold),
)
CLIENT_FACTS = st.lists(
    st.builds(ClientFacts, st.sampled_from(["c1", "c2", "c3", "c4", "c5"]), TAGS.map(fold)),
    max_size=6,
    unique_by=lambda c: c.client_id,
)


@settings(max_examples=500, deadline=None)
@given(MEMBER_FACTS, MEMBER_FACTS, CLIENT_FACTS)
def test_a_member_change_read_through_its_tags_gives_the_full_diff(
    old: MemberFacts, new: MemberFacts, clients: list[ClientFacts]
) -> None:
    tags = tags_that_may_change(old, new)
    candidates = [c for c in clients if tags is None or c.tags & tags]
    assert diff_for_member(old, new, candidates) == diff_for_member(old, new, clients)


def test_a_retag_reads_only_the_clients_of_the_tags_added_or_dropped() -> None:
    practitioner = frozenset({"practitioner"})
    before = MemberFacts("m", True, practitioner, fold(["kids", "sport"]))
    after = MemberFacts("m", True, practitioner, fold(["sport", "diabetes"]))
    assert tags_that_may_change(before, after) == fold(["kids", "diabetes"])
    untagged = replace(after, tags=frozenset())
    assert tags_that_may_change(before, untagged) is None  # now sees everything
    admin = replace(before, roles=frozenset({"administrator"}))
    assert tags_that_may_change(admin, replace(admin, tags=fold(["x"]))) == frozenset()


@settings(max_examples=500, deadline=None)
@given(
    st.lists(MEMBER_FACTS, max_size=6).map(
        lambda ms: [replace(m, member_id=f"m{i}") for i, m in enumerate(ms)]
    ),
    st.none() | st.builds(ClientFacts, st.just("c"), TAGS.map(fold)),
    st.none() | st.builds(ClientFacts, st.just("c"), TAGS.map(fold)),
)
def test_a_client_change_read_through_its_tags_gives_the_full_diff(
    members: list[MemberFacts], old: ClientFacts | None, new: ClientFacts | None
) -> None:
    candidates = members_concerned(members, old, new)
    assert diff_for_client(candidates, old, new) == diff_for_client(members, old, new)
