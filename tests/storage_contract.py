"""One behaviour, two storages: the tests every `Storage` must pass. `MemoryStorage` runs them
in tests/handlers (no server), `MongoStorage` against the real FerretDB in tests/smoke; the
handler tests are worth something only because both pass the same list."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from contracts.common import RejectionReason
from contracts.messages import InvitationExpired
from services.runtime.collection import Document, Index, Storage, UniqueViolation, VersionConflict
from services.runtime.outbox import Outbox
from services.runtime.publisher import MemoryPublisher, Record
from services.runtime.rules import REMOVED, Emit, Refusal
from services.runtime.unit_of_work import (
    MAX_REMEMBERED_COMMANDS,
    AlreadyApplied,
    Cause,
    Repository,
    UnitOfWork,
)
from tests.collection_spy import recorded_reads

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Note:
    id: str
    account_id: str
    text: str


class NoteCodec:
    def key(self, state: Note) -> str:
        return state.id

    def encode(self, state: Note) -> Document:
        return {"account_id": state.account_id, "text": state.text}

    def decode(self, doc: Document) -> Note:
        return Note(doc["_id"], doc["account_id"], doc["text"])


def event(n: int) -> InvitationExpired:
    return InvitationExpired(
        invitation_id=f"00000000-0000-4000-8000-{n:012d}", email=f"n{n}@example.com"
    )


class StorageContract:
    """Subclasses provide a `storage` fixture (a fresh, empty database)."""

    # ---- Collection ----------------------------------------------------------------------

    async def test_insert_is_refused_for_an_existing_id(self, storage: Storage) -> None:
        docs = storage.collection("docs")
        assert await docs.insert({"_id": "a", "version": 1, "n": 1})
        assert not await docs.insert({"_id": "a", "version": 1, "n": 2})
        assert (await docs.get("a") or {})["n"] == 1
        await docs.insert_all([{"_id": "a", "n": 3}, {"_id": "b", "n": 4}, {"_id": "c", "n": 5}])
        await docs.insert_all([])
        assert [(await docs.get(k) or {}).get("n") for k in "abc"] == [1, 4, 5]
        assert await docs.get("missing") is None

    async def test_inserts_of_lists_made_together_each_keep_what_exists(
        self, storage: Storage
    ) -> None:
        """Lists inserted at the same moment (the history records of changes whose batch window
        opened together): every new document lands, and one that exists stays as it was, even
        when two lists carry the same `_id`."""
        docs = storage.collection("docs")
        await docs.insert({"_id": "a", "version": 1, "n": 1})
        await asyncio.gather(
            docs.insert_all([{"_id": "a", "n": 2}, {"_id": "b", "n": 3}]),
            docs.insert_all([{"_id": "c", "n": 4}]),
            docs.insert_all([{"_id": "b", "n": 5}, {"_id": "d", "n": 6}]),
        )
        stored = {k: (await docs.get(k) or {}).get("n") for k in "abcd"}
        assert stored["a"] == 1 and stored["c"] == 4 and stored["d"] == 6
        assert stored["b"] in (3, 5)  # one of the two lists that carried it

    async def test_replace_and_set_fields_compare_and_set_on_the_version(
        self, storage: Storage
    ) -> None:
        docs = storage.collection("docs")
        await docs.insert({"_id": "a", "version": 1, "n": 1})
        assert await docs.replace({"_id": "a", "version": 2, "n": 2}, 1)
        assert not await docs.replace({"_id": "a", "version": 2, "n": 99}, 1)  # stale
        assert await docs.set_fields("a", 2, {"n": 3})
        assert not await docs.set_fields("a", 2, {"n": 99})
        assert await docs.get("a") == {"_id": "a", "version": 3, "n": 3}
        assert not await docs.delete("a", 2)
        assert await docs.delete("a", 3)
        assert await docs.get("a") is None

    async def test_a_unique_index_refuses_a_second_holder(self, storage: Storage) -> None:
        docs = storage.collection("slots", [Index(("slot",), unique=True)])
        await docs.ensure_indexes()
        assert await docs.insert({"_id": "a", "version": 1, "slot": "x"})
        with pytest.raises(UniqueViolation):
            await docs.insert({"_id": "b", "version": 1, "slot": "x"})
        assert await docs.insert({"_id": "b", "version": 1, "slot": "y"})
        with pytest.raises(UniqueViolation):
            await docs.replace({"_id": "b", "version": 2, "slot": "x"}, 1)
        assert await docs.replace({"_id": "a", "version": 2, "slot": "x"}, 1)  # its own value

    async def test_concurrent_callers_each_get_their_own_answer(self, storage: Storage) -> None:
        """Handlers of different accounts ask at the same moment (the Mongo storage sends such
        calls together): each insert, look-up and upsert still answers for itself."""
        docs = storage.collection("slots", [Index(("slot",), unique=True)])
        await docs.ensure_indexes()
        await docs.insert({"_id": "taken", "version": 1, "slot": "s-taken"})
        fresh = [{"_id": f"d{n}", "version": 1, "slot": f"s{n}"} for n in range(20)]
        clash_id = {"_id": "taken", "version": 1, "slot": "s-other"}
        clash_slot = {"_id": "new", "version": 1, "slot": "s-taken"}
        answers = await asyncio.gather(
            *[docs.insert(doc) for doc in [*fresh, clash_id, clash_slot]], return_exceptions=True
        )
        assert answers[:20] == [True] * 20
        assert answers[20] is False  # that id exists: "already done", not an error
        assert isinstance(answers[21], UniqueViolation)  # another holds the slot
        assert await docs.get("new") is None
        looked_up = await asyncio.gather(*[docs.get(k) for k in ["d3", "missing", "d3", "d7"]])
        assert [d and d["slot"] for d in looked_up] == ["s3", None, "s3", "s7"]
        assert looked_up[0] is not looked_up[2]  # each caller may change its copy
        await asyncio.gather(
            *[docs.upsert_fields(f"u{n}", {"slot": f"u{n}", "n": n}) for n in range(5)],
            docs.upsert_fields("d1", {"n": 1}),
        )
        assert [(await docs.get(f"u{n}") or {}).get("n") for n in range(5)] == list(range(5))
        assert await docs.get("d1") == {"_id": "d1", "version": 1, "slot": "s1", "n": 1}

    async def test_concurrent_unique_look_ups_each_get_their_own_document(
        self, storage: Storage
    ) -> None:
        """Look-ups by a unique slot, and by two fields, asked at the same moment (sent as one
        query by the Mongo storage): each gets the document its filter picks out, or None."""
        docs = storage.collection("members", [Index(("account_id", "email"))])
        await docs.ensure_indexes()
        await docs.insert_all(
            [
                {"_id": f"a{a}|u{u}", "version": 1, "account_id": f"a{a}", "email": f"u{u}@x"}
                | {"slot": f"s{a}.{u}", "status": "active" if u % 2 else "left", "n": 10 * a + u}
                for a in range(3)
                for u in range(4)
            ]
            + [{"_id": "tagged", "version": 1, "slot": ["t1", "t2"], "n": 99}]
        )
        wanted = [
            {"account_id": "a1", "email": "u3@x", "status": "active"},
            {"account_id": "a2", "email": "u2@x", "status": "active"},  # that one left
            {"account_id": "a0", "email": "u1@x", "status": "active"},
            {"account_id": "a1", "email": "u3@x", "status": "active"},  # the same again
            {"slot": "s2.0"},
            {"slot": "s9.9"},
            {"slot": "t2"},  # an array field matches by one element, as on the server
            {"slot": "s0.3", "n": 3},
            {"slot": "s0.3", "n": 4},
        ]
        found = await asyncio.gather(*[docs.find_unique(where) for where in wanted])
        assert [d and d["n"] for d in found] == [13, None, 1, 13, 20, None, 99, 3, None]
        assert found[0] is not found[3]  # each caller may change its copy
        assert await docs.find_unique({"n": {"$gte": 22}}) is not None  # any filter still works

    async def test_concurrent_compare_and_set_updates_each_get_their_own_answer(
        self, storage: Storage
    ) -> None:
        """Outbox clears of many handlers at the same moment (one bulk write on the Mongo
        storage, which reports only how many matched): each caller learns whether its own
        update landed."""
        docs = storage.collection("cas")
        await docs.insert_all([{"_id": f"d{n}", "version": 3, "outbox": ["e"]} for n in range(6)])
        answers = await asyncio.gather(
            *[docs.set_fields(f"d{n}", 3 if n % 2 == 0 else 2, {"outbox": []}) for n in range(6)],
            docs.set_fields("missing", 1, {"outbox": []}),
        )
        assert answers == [True, False, True, False, True, False, False]
        stored = [await docs.get(f"d{n}") or {} for n in range(6)]
        assert [(d["version"], d["outbox"]) for d in stored] == [(4, []), (3, ["e"])] * 3
        both = await asyncio.gather(
            docs.set_fields("d1", 3, {"n": 1}), docs.set_fields("d1", 3, {"n": 2})
        )
        assert sorted(both) == [False, True]  # the same version: exactly one wins
        winner = 1 if both[0] else 2
        assert {k: v for k, v in (await docs.get("d1") or {}).items() if k != "outbox"} == {
            "_id": "d1",
            "version": 4,
            "n": winner,
        }

    async def test_concurrent_replaces_each_get_their_own_answer(self, storage: Storage) -> None:
        """Handlers of different accounts commit at the same moment (one bulk write on the
        Mongo storage): a stale version, a missing document, two writers of one version and a
        unique slot taken in the same batch each get their own answer; what landed is stored,
        sub-millisecond times included."""
        docs = storage.collection("cas", [Index(("slot",), unique=True)])
        await docs.ensure_indexes()
        await docs.insert_all(
            [{"_id": f"d{n}", "version": 3, "slot": f"s{n}", "n": 0} for n in range(6)]
        )
        at = T0 + timedelta(microseconds=123_456)

        def doc(n: int, value: int, slot: str | None = None) -> Document:
            return {"_id": f"d{n}", "version": 4, "slot": slot or f"s{n}", "n": value, "at": at}

        answers = await asyncio.gather(
            docs.replace(doc(0, 10), 3),
            docs.replace(doc(1, 11), 2),  # stale
            docs.replace(doc(2, 12), 3),
            docs.replace(doc(3, 13), 3),  # two writers of version 3 ...
            docs.replace(doc(3, 14), 3),  # ... exactly one wins
            docs.replace(doc(4, 15, slot="s5"), 3),  # d5 holds that slot
            docs.replace({"_id": "missing", "version": 2}, 1),
            return_exceptions=True,
        )
        assert answers[:3] == [True, False, True]
        assert sorted(answers[3:5]) == [False, True]  # type: ignore[type-var]
        assert isinstance(answers[5], UniqueViolation)
        assert answers[6] is False
        stored = {n: await docs.get(f"d{n}") or {} for n in range(6)}
        assert [stored[n]["n"] for n in (0, 1, 2, 4, 5)] == [10, 0, 12, 0, 0]
        assert stored[3]["n"] == (13 if answers[3] else 14)
        assert abs(stored[0]["at"].replace(tzinfo=UTC) - at) < timedelta(milliseconds=1)
        assert await docs.get("missing") is None

    async def test_a_long_page_comes_back_whole_and_in_order(self, storage: Storage) -> None:
        """More documents than a server's default first batch (101), sorted and limited, in one
        batch (a limit up to 1,000), on an ordinary cursor (a longer limit) and unlimited."""
        docs = storage.collection("docs")
        await docs.insert_all([{"_id": f"d{n:04d}", "version": 1, "n": n} for n in range(1200)])
        page = await docs.find({"n": {"$gte": 20}}, sort="_id", limit=250)
        assert [d["n"] for d in page] == list(range(20, 270))
        assert len(await docs.find({}, limit=1000)) == 1000
        long_page = await docs.find({"n": {"$gte": 5}}, sort="_id", limit=1100)
        assert [d["n"] for d in long_page] == list(range(5, 1105))
        assert [d["n"] for d in await docs.find({}, sort="_id")] == list(range(1200))

    async def test_queries(self, storage: Storage) -> None:
        docs = storage.collection("docs")
        for n in range(6):
            await docs.insert(
                {
                    "_id": f"d{n}",
                    "version": 1,
                    "account_id": "acct-1" if n < 4 else "acct-2",
                    "n": n,
                    "at": T0 + timedelta(hours=n),
                    "tags": [f"t{n % 3}", "all"],
                    "outbox": [{"id": "e"}] if n % 2 else [],
                }
            )

        async def ids(where: Document, **kw: object) -> list[str]:
            return sorted(d["_id"] for d in await docs.find(where, **kw))  # type: ignore[arg-type]

        assert await ids({"account_id": "acct-1"}) == ["d0", "d1", "d2", "d3"]
        assert await ids({"account_id": "acct-1", "at": {"$gte": T0 + timedelta(hours=2)}}) == [
            "d2",
            "d3",
        ]
        assert await ids({"at": {"$lte": T0 + timedelta(hours=1)}}) == ["d0", "d1"]
        assert await ids({"tags": {"$in": ["t1", "nope"]}}) == ["d1", "d4"]
        assert await ids({"tags": "t2"}) == ["d2", "d5"]
        assert await ids({"outbox.0": {"$exists": True}}) == ["d1", "d3", "d5"]
        assert await ids({"n": {"$gt": 3}}) == ["d4", "d5"]
        page = await docs.find({"account_id": "acct-1", "_id": {"$gt": "d1"}}, sort="_id", limit=1)
        assert [d["_id"] for d in page] == ["d2"]
        assert await docs.count({"tags": "all"}) == 6
        assert await ids({"$or": [{"n": 0}, {"tags": "t2"}], "account_id": "acct-2"}) == ["d5"]
        assert await ids({"$or": [{"n": 0}, {"tags": {"$in": ["t2"]}}]}) == ["d0", "d2", "d5"]
        await docs.insert({"_id": "bare", "version": 1, "tags": []})
        assert await ids({"tags": []}) == ["bare"]
        assert await ids({"tags": {"$in": []}}) == []
        assert (await docs.find_one({"n": 5}) or {})["_id"] == "d5"
        assert await docs.find_one({"n": 42}) is None
        [slim] = await docs.find({"n": 1}, omit=("outbox", "tags"))
        assert set(slim) == {"_id", "version", "account_id", "n", "at"}
        [lean] = await docs.find({"n": 1}, only=("n",))
        assert lean == {"_id": "d1", "n": 1}

    async def test_projection_writes_ignore_the_version(self, storage: Storage) -> None:
        docs = storage.collection("projection")
        await docs.upsert_fields("m1", {"status": "active"})
        await docs.upsert_fields("m1", {"roles": ["owner"]})
        await docs.push("m1", "links", {"h": 1})
        await docs.push("m1", "links", {"h": 2})
        assert await docs.get("m1") == {
            "_id": "m1",
            "status": "active",
            "roles": ["owner"],
            "links": [{"h": 1}, {"h": 2}],
        }

    # ---- the unit of work over it --------------------------------------------------------

    def unit(
        self, storage: Storage, cause_id: str = "cmd-1"
    ) -> tuple[UnitOfWork, Repository[Note], MemoryPublisher]:
        publisher = MemoryPublisher()
        uow = UnitOfWork(
            Outbox(publisher), "/test", "test.events", Cause(cause_id, "acct-1", "corr-1", cause_id)
        )
        return uow, Repository(storage.collection("notes"), NoteCodec()), publisher

    @staticmethod
    def broker_down(uow: UnitOfWork) -> UnitOfWork:
        """A unit for the same message whose publish fails: as if the process died between
        the write and the publish."""
        publisher_down = MemoryPublisher()

        async def refuse(records: object) -> None:
            raise ConnectionError("broker down")

        publisher_down.publish = refuse  # type: ignore[method-assign]
        return UnitOfWork(Outbox(publisher_down), "/test", "test.events", uow.cause)

    async def test_commit_writes_state_and_events_once_then_publishes(
        self, storage: Storage
    ) -> None:
        uow, notes, publisher = self.unit(storage)
        stored = await uow.load(notes, "n1")
        assert stored.state is None
        after = await uow.commit(
            stored, Note("n1", "acct-1", "hello"), [event(1), Emit(event(2), topic="private")]
        )
        assert after.state == Note("n1", "acct-1", "hello")
        assert [(r.topic, r.key) for r in publisher.records] == [
            ("test.events", b"acct-1"),
            ("private", b"acct-1"),
        ]
        first = publisher.messages("test.events")[0]
        assert (first["type"], first["causationid"], first["correlationid"]) == (
            "InvitationExpired",
            "cmd-1",
            "corr-1",
        )
        await uow.outbox.drain(patience=5)  # the clear runs after the commit returned
        doc = await notes.collection.get("n1") or {}
        assert doc["outbox"] == [] and doc["handled_commands"] == ["cmd-1"]

    async def test_a_document_read_before_its_outbox_was_cleared_is_written_over_that_clear(
        self, storage: Storage
    ) -> None:
        """The clear of a commit's outbox runs after the commit returned. A later command of
        this process that read the document before the clear landed writes without a conflict
        and without publishing the first command's events again; a read older than a version
        someone else wrote still conflicts."""
        uow, notes, publisher = self.unit(storage)
        as_written: list[Document] = []

        async def keep(doc: Document) -> None:
            as_written.append(doc)

        uow.outbox.before_publish = keep
        await uow.commit(await uow.load(notes, "n1"), Note("n1", "acct-1", "first"), [event(1)])
        await uow.outbox.drain(patience=5)
        read_before_the_clear = notes.stored(as_written[0])
        assert read_before_the_clear.document is not None
        assert read_before_the_clear.document["outbox"] != []  # the entry the clear removed
        second = UnitOfWork(uow.outbox, "/test", "test.events", Cause("cmd-2", "acct-1", "c", "2"))
        await second.commit(read_before_the_clear, Note("n1", "acct-1", "second"), [event(2)])
        await uow.outbox.drain(patience=5)
        emails = [m["data"]["email"] for m in publisher.messages("test.events")]
        assert emails == ["n1@example.com", "n2@example.com"]
        doc = await notes.collection.get("n1") or {}
        assert (doc["text"], doc["outbox"], doc["handled_commands"]) == (
            "second",
            [],
            ["cmd-1", "cmd-2"],
        )
        third = UnitOfWork(uow.outbox, "/test", "test.events", Cause("cmd-3", "acct-1", "c", "3"))
        with pytest.raises(VersionConflict):  # versions were written since: decide again
            await third.commit(read_before_the_clear, Note("n1", "acct-1", "third"), [event(3)])
        assert ((await notes.collection.get("n1")) or {})["text"] == "second"

    async def test_a_redelivered_command_is_skipped_and_republishes_what_it_left(
        self, storage: Storage
    ) -> None:
        uow, notes, publisher = self.unit(storage)
        crashed = self.broker_down(uow)
        with pytest.raises(ConnectionError):
            await crashed.commit(
                await crashed.load(notes, "n1"), Note("n1", "acct-1", "x"), [event(1)]
            )
        assert publisher.records == []
        with pytest.raises(AlreadyApplied):
            await uow.load(notes, "n1")  # the same command again: not decided twice ...
        assert len(publisher.records) == 1  # ... but what it left is published
        with pytest.raises(AlreadyApplied):
            await uow.load(notes, "n1")
        assert len(publisher.records) == 1  # and only once by this process

    async def test_a_creation_assumed_new_finds_its_redelivery_at_the_insert(
        self, storage: Storage
    ) -> None:
        """Not read first: the first delivery inserts; one redelivered after a crash between
        the write and the publish publishes what was left, keeps the first state, and is
        AlreadyApplied like a `load_new`; another creation of the same key is refused alike."""
        uow, notes, publisher = self.unit(storage)
        crashed = self.broker_down(uow)
        with pytest.raises(ConnectionError):
            await crashed.commit(crashed.assume_new(notes), Note("n1", "acct-1", "x"), [event(1)])
        assert publisher.records == []
        with pytest.raises(AlreadyApplied):
            await uow.commit(uow.assume_new(notes), Note("n1", "acct-1", "again"), [event(1)])
        assert len(publisher.records) == 1  # what the first left, once
        assert (await notes.get("n1") or Note("", "", "")).text == "x"
        fresh, _, fresh_publisher = self.unit(storage, "cmd-2")
        created = await fresh.commit(fresh.assume_new(notes), Note("n2", "acct-1", "y"), [event(2)])
        assert created.state == Note("n2", "acct-1", "y") and created.version == 2  # cleared
        await fresh.outbox.drain(patience=5)  # else "another process" sees n2's outbox, too
        assert len(fresh_publisher.records) == 1
        other, _, other_publisher = self.unit(storage, "cmd-3")
        with pytest.raises(AlreadyApplied):  # a key another message created: not overwritten
            await other.commit(other.assume_new(notes), Note("n2", "acct-1", "z"), [event(3)])
        assert other_publisher.records == []
        assert (await notes.get("n2") or Note("", "", "")).text == "y"

    async def test_create_or_change_reads_only_when_the_key_exists(self, storage: Storage) -> None:
        """A creation is inserted unread; a key that exists is read and decided again from
        what is stored; a message it applied before is AlreadyApplied; a decision that writes
        nothing for an absent key is checked against the stored one."""
        uow, notes, publisher = self.unit(storage, "cmd-1")
        get = notes.collection.get
        reads = recorded_reads(notes.collection)
        decided: list[Note | None] = []

        def append(text: str) -> Callable[[Note | None], Note | None]:
            def decide(note: Note | None) -> Note | None:
                decided.append(note)
                return Note("n1", "acct-1", text if note is None else f"{note.text}+{text}")

            return decide

        created = await uow.create_or_change(notes, "n1", append("a"))
        assert (created.state, reads, decided) == (Note("n1", "acct-1", "a"), [], [None])

        second, _, _ = self.unit(storage, "cmd-2")
        changed = await second.create_or_change(notes, "n1", append("b"))
        assert changed.state == Note("n1", "acct-1", "a+b")
        assert reads == ["n1"] and decided[1:] == [None, Note("n1", "acct-1", "a")]

        again, _, _ = self.unit(storage, "cmd-2")
        with pytest.raises(AlreadyApplied):
            await again.create_or_change(notes, "n1", append("c"))
        assert len(reads) == 2 and len(decided) == 4  # read, and not decided again

        third, _, _ = self.unit(storage, "cmd-3")
        unchanged = await third.create_or_change(notes, "n1", lambda note: None)
        assert unchanged.state == Note("n1", "acct-1", "a+b") and len(reads) == 3

        with pytest.raises(ValueError, match="not 'n2'"):
            await third.create_or_change(notes, "n2", append("d"))
        assert await get("n2") is None and publisher.records == []

    async def test_a_stale_read_conflicts_instead_of_overwriting(self, storage: Storage) -> None:
        uow, notes, _ = self.unit(storage, "cmd-1")
        other, _, _ = self.unit(storage, "cmd-2")
        await uow.commit(await uow.load(notes, "n1"), Note("n1", "acct-1", "v1"))
        mine, theirs = await notes.load("n1"), await other.load(notes, "n1")
        await other.commit(theirs, Note("n1", "acct-1", "theirs"))
        with pytest.raises(VersionConflict):
            await uow.commit(mine, Note("n1", "acct-1", "mine"))
        creator, _, _ = self.unit(storage, "cmd-3")
        with pytest.raises(VersionConflict):  # a second create of the same key
            await creator.commit(notes.stored(None), Note("n1", "acct-1", "again"))
        assert (await notes.get("n1") or Note("", "", "")).text == "theirs"

    async def test_unchanged_removed_and_unique_refusals(self, storage: Storage) -> None:
        uow, _, publisher = self.unit(storage)
        notes = Repository(
            storage.collection("unique_notes", [Index(("text",), unique=True)]), NoteCodec()
        )
        await notes.collection.ensure_indexes()
        await uow.commit(notes.stored(None), Note("n1", "acct-1", "same"))
        stored = await notes.load("n1")
        assert (await uow.commit(stored, None)).version == stored.version  # nothing written
        refusal = Refusal(RejectionReason.ALREADY_INVITED, "taken")
        with pytest.raises(Refusal) as raised:
            await uow.commit(notes.stored(None), Note("n2", "acct-1", "same"), on_unique=refusal)
        assert raised.value is refusal
        await uow.commit(await notes.load("n1"), REMOVED)
        assert await notes.get("n1") is None and publisher.records == []

    async def test_handled_commands_are_capped(self, storage: Storage) -> None:
        _, notes, _ = self.unit(storage)
        for n in range(MAX_REMEMBERED_COMMANDS + 5):
            uow, _, _ = self.unit(storage, f"cmd-{n}")
            await uow.commit(await uow.load(notes, "n1"), Note("n1", "acct-1", str(n)))
        handled = (await notes.collection.get("n1") or {})["handled_commands"]
        assert (
            len(handled) == MAX_REMEMBERED_COMMANDS
            and handled[-1] == f"cmd-{MAX_REMEMBERED_COMMANDS + 4}"
        )

    # ---- the outbox relay ----------------------------------------------------------------

    async def test_the_relay_retries_what_this_process_could_not_publish(
        self, storage: Storage
    ) -> None:
        """A failed publish stays owed and goes out at the next `sweep_owed`, which reads only
        the documents this process owes; what another process left is the full sweep's."""
        notes = Repository(storage.collection("notes"), NoteCodec())
        ours, broker_down = _switchable_publisher()
        outbox = Outbox(ours)
        theirs, _ = _switchable_publisher()
        for process, note in ((outbox, "n1"), (Outbox(theirs), "n2")):
            uow = UnitOfWork(process, "/test", "test.events", Cause(note, "acct-1", "c", note))
            with pytest.raises(ConnectionError):
                await uow.commit(
                    await uow.load(notes, note), Note(note, "acct-1", "x"), [event(int(note[1]))]
                )
        documents, oldest = outbox.backlog()
        assert documents == 1 and oldest is not None

        broker_down.clear()
        assert await outbox.sweep_owed() == 1
        assert [m["data"]["email"] for m in ours.messages("test.events")] == ["n1@example.com"]
        assert outbox.backlog() == (0, None)
        assert await outbox.sweep_owed() == 0
        assert (await notes.collection.get("n1") or {})["outbox"] == []
        assert (await notes.collection.get("n2") or {})["outbox"] != []  # not ours to know

        assert await outbox.sweep([notes.collection]) == 1
        emails = [m["data"]["email"] for m in ours.messages("test.events")]
        assert emails == ["n1@example.com", "n2@example.com"]
        assert outbox.backlog() == (0, None)


def _switchable_publisher() -> tuple[MemoryPublisher, asyncio.Event]:
    """A publisher that refuses every record while the returned event is set (it starts set)."""
    publisher = MemoryPublisher()
    down = asyncio.Event()
    down.set()
    publish = publisher.publish

    async def publish_unless_down(records: Sequence[Record]) -> None:
        if down.is_set():
            raise ConnectionError("broker down")
        await publish(records)

    publisher.publish = publish_unless_down  # type: ignore[method-assign]
    return publisher, down
