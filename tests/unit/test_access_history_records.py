"""How a decision's record is packed: one stored document for many members' entries (one
index update on DocumentDB, not one per member), never more ids than one record may hold."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from services.access_control.history import (
    HISTORY_TOPIC,
    RECORD_IDS,
    AccessRecorded,
    Because,
    Entry,
    document,
    records,
    stored,
    upgraded,
)

BECAUSE = Because("SetClientSecurityTags", "owner-1", datetime(2026, 11, 29, 10, 0, tzinfo=UTC))


def entry(member: str, granted: int = 0, revoked: int = 0) -> Entry:
    return Entry(
        member_id=member,
        granted=[f"g{n}" for n in range(granted)],
        revoked=[f"r{n}" for n in range(revoked)],
    )


def packed(emits: list[object]) -> list[AccessRecorded]:
    data = [emit.data for emit in emits]  # type: ignore[attr-defined]
    assert all(isinstance(d, AccessRecorded) for d in data)
    return data


def test_a_client_change_that_moves_25_members_is_one_record() -> None:
    entries = [entry(f"m{n:02d}", granted=1) for n in range(25)]
    emits = records(entries, BECAUSE)
    assert len(emits) == 1 and emits[0].topic == HISTORY_TOPIC
    (record,) = packed(emits)
    assert record.entries == entries
    assert (record.cause_type, record.actor_id, record.at) == (
        BECAUSE.cause_type,
        BECAUSE.actor_id,
        BECAUSE.at,
    )


@given(st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 1000)), max_size=12))
def test_records_keep_the_entries_in_order_within_the_size_and_sort_by_seq(
    sizes: list[tuple[int, int]],
) -> None:
    entries = [entry(f"m{n}", g, r) for n, (g, r) in enumerate(sizes)]
    data = packed(records(entries, BECAUSE))
    assert [e for record in data for e in record.entries] == entries
    assert all(sum(e.size for e in record.entries) <= RECORD_IDS for record in data)
    assert all(record.entries for record in data)
    seqs = [record.seq for record in data]
    assert seqs == sorted(set(seqs))
    # packed greedily: a record is closed only when the next entry did not fit
    for record, following in itertools.pairwise(data):
        used = sum(e.size for e in record.entries)
        assert used + following.entries[0].size > RECORD_IDS


def test_the_stored_record_names_its_members_and_clients_for_the_indexes() -> None:
    (record,) = packed(records([entry("ann", granted=2), entry("bob", revoked=1)], BECAUSE))
    doc = stored("rec-1", "acct-1", "cmd-1", record)
    assert doc["members"] == ["ann", "bob"]
    assert doc["clients"] == ["g0", "g1", "r0"]
    assert [e["member_id"] for e in doc["entries"]] == ["ann", "bob"]
    assert (doc["_id"], doc["account_id"], doc["cause_id"], doc["at"]) == (
        "rec-1",
        "acct-1",
        "cmd-1",
        BECAUSE.at,
    )


def test_an_outbox_entry_becomes_the_same_stored_record() -> None:
    (record,) = packed(records([entry("ann", granted=1)], BECAUSE))
    value = {
        "id": "ev-1",
        "accountid": "acct-1",
        "causationid": "cmd-1",
        "data": record.model_dump(mode="json"),
    }
    assert document({"value": json.dumps(value)}) == stored("ev-1", "acct-1", "cmd-1", record)


def test_a_record_of_the_retired_shape_gains_its_entry_and_names() -> None:
    old = {
        "_id": "old-1",
        "member_id": "ann",
        "granted": ["kid-1"],
        "revoked": ["adult-1"],
        "reasons": {"kid-1": "tags:kids"},
    }
    assert upgraded(old) == {
        "members": ["ann"],
        "clients": ["adult-1", "kid-1"],
        "entries": [
            {
                "member_id": "ann",
                "granted": ["kid-1"],
                "revoked": ["adult-1"],
                "reasons": {"kid-1": "tags:kids"},
            }
        ],
    }


def test_an_outbox_entry_the_earlier_version_left_is_stored_in_the_current_shape() -> None:
    """A record still unpublished in an aggregate's outbox at the upgrade: the relay of the new
    version writes it (a record it could not read would hold the outbox forever)."""
    value = {
        "id": "ev-old",
        "accountid": "acct-1",
        "correlationid": "cmd-1",
        "data": {
            "member_id": "ann",
            "granted": ["kid-1"],
            "reasons": {"kid-1": "tags:kids"},
            "cause_type": "SetClientSecurityTags",
            "actor_id": "owner-1",
            "at": "2026-11-29T10:00:00Z",
            "seq": 7,
        },
    }
    doc = document({"value": json.dumps(value)})
    assert (doc["_id"], doc["cause_id"], doc["members"], doc["clients"]) == (
        "ev-old",
        "cmd-1",
        ["ann"],
        ["kid-1"],
    )
    assert doc["entries"] == [
        {"member_id": "ann", "granted": ["kid-1"], "revoked": [], "reasons": {"kid-1": "tags:kids"}}
    ]
    assert (doc["cause_type"], doc["seq"], doc["at"]) == ("SetClientSecurityTags", 7, BECAUSE.at)
