"""One message's work on one aggregate at a time: load it, skip a command it already applied,
let a pure rule decide, and commit the new state together with the events it causes (the
outbox) in ONE compare-and-set write; then publish them.

A handler reads as parse -> authorise -> decide -> commit:

    target = await uow.load(self.people, key)      # AlreadyApplied if this command was done
    actor = await self.authorise(msg, MANAGE_TEAM)
    person, event = decide_disconnect(actor, target.state, ...)
    await uow.commit(target, person, [event])

A unit of work holds nothing but its cause, so units of different accounts can run
concurrently and in batches; a `VersionConflict` means "read and decide again" (the consumer
retries the message at once).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from functools import cache
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from contracts.envelope import CloudEvent
from services.runtime.collection import (
    Collection,
    Document,
    Filter,
    UniqueViolation,
    VersionConflict,
)
from services.runtime.events import Cause, caused_by
from services.runtime.kept_documents import KeptDocuments
from services.runtime.outbox import Outbox, outbox_entry
from services.runtime.rules import Emit, Event, Refusal, Removed

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

MAX_REMEMBERED_COMMANDS = 200
BOOKKEEPING = ("outbox", "handled_commands", "outcomes")

S = TypeVar("S")


class Codec(Protocol[S]):
    """How an aggregate type is stored: its key and its fields (without `_id`, `version`,
    `outbox`, `handled_commands`, which the unit of work owns)."""

    def key(self, state: S) -> str: ...

    def encode(self, state: S) -> Document: ...

    def decode(self, doc: Document) -> S: ...


def field_values(state: DataclassInstance) -> Document:
    """A dataclass's fields by name, each value as it is, for a codec to start from. Unlike
    `dataclasses.asdict` it neither deep-copies the values nor turns nested dataclasses into
    dicts (the codec converts what BSON cannot hold): that copying was a third of membership's
    handling time. The values are immutable, and storages copy what they keep."""
    return {name: getattr(state, name) for name in _field_names(type(state))}


@cache
def _field_names(kind: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind))


@dataclass(frozen=True)
class Stored(Generic[S]):
    """An aggregate as read: its state (None: not stored yet) and the document it came from."""

    repository: Repository[S]
    state: S | None
    document: Document | None = None
    # not read, taken to be new (`UnitOfWork.assume_new`): an `_id` found at the insert means
    # the message was applied before
    assumed_new: bool = False
    # not read, guessed absent (`UnitOfWork.create_or_change`): an `_id` found at the insert
    # means it exists, to be read and decided again
    guessed_absent: bool = False

    @property
    def version(self) -> int:
        return 0 if self.document is None else int(self.document.get("version", 0))

    def has_handled(self, cause_id: str) -> bool:
        return self.document is not None and cause_id in self.document.get("handled_commands", [])


class Repository(Generic[S]):
    """Typed access to one collection of aggregates. `kept`: the documents this process wrote
    are kept, and a unit of work's `load` takes them from there (see `kept_documents`)."""

    def __init__(
        self, collection: Collection, codec: Codec[S], kept: KeptDocuments | None = None
    ) -> None:
        self.collection = collection
        self.codec = codec
        self.kept = kept

    def stored(self, doc: Document | None) -> Stored[S]:
        return Stored(self, None if doc is None else self.codec.decode(doc), doc)

    async def load(self, key: str) -> Stored[S]:
        return self.stored(await self.collection.get(key))

    async def load_where(self, where: Filter) -> Stored[S]:
        """The aggregate an equality filter identifies (see `Collection.find_unique`)."""
        return self.stored(await self.collection.find_unique(where))

    async def get(self, key: str) -> S | None:
        return (await self.load(key)).state

    async def find(
        self, where: Filter, *, sort: str | None = None, limit: int | None = None
    ) -> list[S]:
        """States only: the unit of work's bookkeeping (outbox, remembered commands) stays
        in the database."""
        docs = await self.collection.find(where, sort=sort, limit=limit, omit=BOOKKEEPING)
        return [self.codec.decode(doc) for doc in docs]

    async def load_many(
        self, where: Filter, *, sort: str | None = None, limit: int | None = None
    ) -> list[Stored[S]]:
        docs = await self.collection.find(where, sort=sort, limit=limit)
        return [self.stored(doc) for doc in docs]

    async def count(self, where: Filter) -> int:
        return await self.collection.count(where)


class _FoundAtInsert(Exception):
    """An aggregate guessed absent was there when its insert came."""


class AlreadyApplied(Exception):
    """The message was applied before (a redelivery): what it left was published again."""


class UnitOfWork:
    def __init__(self, outbox: Outbox, source: str, events_topic: str, cause: Cause) -> None:
        self.outbox = outbox
        self.source = source
        self.events_topic = events_topic
        self.cause = cause
        self.use_kept = True  # False: every load reads the database
        # documents loaded from memory that no write of this unit has confirmed yet
        self._unconfirmed: set[tuple[KeptDocuments, str]] = set()

    async def load(self, repository: Repository[S], key: str) -> Stored[S]:
        kept = repository.kept
        doc = kept.get(key) if kept is not None and self.use_kept else None
        if kept is None or doc is None:
            return await self._unless_applied(await repository.load(key))
        self._unconfirmed.add((kept, key))
        return await self._unless_applied(repository.stored(doc))

    def forget_unconfirmed(self) -> bool:
        """Forget the kept documents this unit decided from without writing them; whether
        there were any (then the message must be decided again from the database)."""
        for kept, key in self._unconfirmed:
            kept.forget(key)
        unconfirmed = bool(self._unconfirmed)
        self._unconfirmed.clear()
        return unconfirmed

    async def load_where(self, repository: Repository[S], where: Filter) -> Stored[S]:
        return await self._unless_applied(await repository.load_where(where))

    async def load_new(self, repository: Repository[S], key: str) -> Stored[S]:
        """The aggregate this message creates: if it exists, the message was applied."""
        stored = await repository.load(key)
        if stored.document is not None:
            await self._answer_again(stored)
            raise AlreadyApplied(key)
        return stored

    def assume_new(self, repository: Repository[S]) -> Stored[S]:
        """The aggregate this message creates, without a read: `commit` inserts it, and if its
        `_id` exists the message was applied before (answered again, AlreadyApplied), as with
        `load_new`. Only for a handler whose decision cannot depend on whether the aggregate
        exists and that changes nothing elsewhere before it commits."""
        return Stored(repository, None, assumed_new=True)

    async def create_or_change(
        self, repository: Repository[S], key: str, decide: Callable[[S | None], S | None]
    ) -> Stored[S]:
        """`decide(state)` committed for the aggregate `key`, for a message that nearly
        always creates it: `decide(None)` is inserted without a read first, and only when the
        insert finds `key` there is it read (AlreadyApplied if this message was) and decided
        again, written by compare-and-set as after `load`. One request instead of a read and
        a write; when the guess is wrong, the refused insert comes on top of those two (on
        MongoDB with a look-up that tells an existing key from another unique index's
        refusal). `decide` may run twice: it must be pure."""
        kept = repository.kept
        known = kept is not None and kept.get(key) is not None  # a kept document: no guess
        created = None if known else decide(None)
        if created is not None:
            if repository.codec.key(created) != key:
                raise ValueError(f"decided {repository.codec.key(created)!r}, not {key!r}")
            try:
                return await self.commit(Stored(repository, None, guessed_absent=True), created)
            except _FoundAtInsert:
                pass  # it exists: read it and decide again
        stored = await self.load(repository, key)
        return await self.commit(stored, decide(stored.state))

    async def _unless_applied(self, stored: Stored[S]) -> Stored[S]:
        if stored.has_handled(self.cause.id):
            await self._answer_again(stored)
            raise AlreadyApplied(self.cause.id)
        return stored

    async def _answer_again(self, stored: Stored[S]) -> None:
        """A redelivered command: whatever is still unpublished goes out, then its outcome is
        published again with the same id (a gateway that missed it sees it; consumers that
        saw it drop it by id)."""
        document = stored.document or {}
        published = self.outbox.published_here(stored.repository.collection, document)
        unpublished = set() if published else {entry["id"] for entry in document.get("outbox", [])}
        await self.publish(stored)
        outcomes = document.get("outcomes", [])
        entry = next((o for o in outcomes if o.get("cause") == self.cause.id), None)
        if entry is not None and entry["id"] not in unpublished:
            await self.outbox.republish(entry)

    async def commit(
        self,
        stored: Stored[S],
        new: S | Removed | None,
        events: Sequence[Event] = (),
        *,
        remember: bool = True,
        on_unique: Refusal | None = None,
    ) -> Stored[S]:
        """Write `new` (None: the state stays; REMOVED: delete it) with `events` in one
        compare-and-set write, then publish; returns the aggregate as it now is.
        VersionConflict when someone wrote meanwhile; `on_unique` is raised when a unique
        index refuses the state."""
        repository = stored.repository
        if isinstance(new, Removed):
            await self._remove(stored)
            return repository.stored(None)
        state = stored.state if new is None else new
        if state is None or (new is None and not events):
            return await self.publish(stored)
        doc = self._document(stored, state, events, remember)
        key = str(doc["_id"])
        kept = repository.kept
        try:
            written = await self._write(stored, doc)
        except UniqueViolation:
            if on_unique is None:
                raise
            raise on_unique from None
        finally:
            if kept is not None:  # kept again below if all goes well
                kept.forget(key)
                self._unconfirmed.discard((kept, key))
        if written is None:
            if stored.assumed_new:
                await self._answer_again(await repository.load(key))
                raise AlreadyApplied(key)
            if stored.guessed_absent:
                raise _FoundAtInsert(key)
            raise VersionConflict(key)
        flushed = await self.outbox.flush(repository.collection, written, clear_later=True)
        if kept is not None and flushed is not None:
            kept.keep(key, flushed)
        return repository.stored(flushed)

    async def publish(self, stored: Stored[S]) -> Stored[S]:
        """Publish whatever an earlier write left in the aggregate's outbox."""
        if stored.document is None:
            return stored
        return stored.repository.stored(
            await self.outbox.flush(stored.repository.collection, stored.document)
        )

    def envelope(self, event: Event) -> tuple[str, CloudEvent[Any]]:
        emit = event if isinstance(event, Emit) else Emit(event)
        return emit.topic or self.events_topic, caused_by(self.cause, self.source, emit)

    def _document(
        self, stored: Stored[S], state: S, events: Sequence[Event], remember: bool
    ) -> Document:
        codec = stored.repository.codec
        before = stored.document or {}
        doc = {**before, **codec.encode(state), "_id": codec.key(state)}
        entries = [outbox_entry(*self.envelope(e)) for e in events]
        doc["outbox"] = [*before.get("outbox", []), *entries]
        if remember:
            handled = [*before.get("handled_commands", []), self.cause.id]
            doc["handled_commands"] = handled[-MAX_REMEMBERED_COMMANDS:]
            outcome = next((e for e in entries if e["topic"] == self.events_topic), None)
            if self.cause.is_command and outcome is not None:
                doc["outcomes"] = _remembered_outcomes(
                    before.get("outcomes", []), self.cause.id, outcome, doc["handled_commands"]
                )
        doc["version"] = stored.version + 1
        return doc

    async def _write(self, stored: Stored[S], doc: Document) -> Document | None:
        """The document as written, or None when the compare-and-set found another version."""
        collection = stored.repository.collection
        if stored.document is None:
            return doc if await collection.insert(doc) else None
        # The document may have been read before this process's clear of its outbox landed:
        # that clear changed nothing else, so write over it, without the entries it cleared.
        expected = await self.outbox.version_after_own_clear(
            collection, str(doc["_id"]), stored.version
        )
        if expected != stored.version:
            published = {entry["id"] for entry in stored.document.get("outbox", [])}
            outbox = [entry for entry in doc["outbox"] if entry["id"] not in published]
            doc = {**doc, "outbox": outbox, "version": expected + 1}
        return doc if await collection.replace(doc, expected) else None

    async def _remove(self, stored: Stored[S]) -> None:
        if stored.document is None:
            return
        kept = stored.repository.kept
        if kept is not None:
            kept.forget(str(stored.document["_id"]))
        await self.publish(stored)  # what it still owes the world goes out first
        collection = stored.repository.collection
        fresh = await collection.get(stored.document["_id"])
        if fresh is not None and not await collection.delete(fresh["_id"], fresh["version"]):
            raise VersionConflict(str(fresh["_id"]))


def _remembered_outcomes(
    outcomes: list[Document], cause_id: str, entry: Document, handled: list[str]
) -> list[Document]:
    """Each remembered command's outcome (the first event it caused on the service's events
    topic), for as long as the command is remembered. A list: command ids may hold dots."""
    remembered = set(handled)
    kept = [o for o in outcomes if o.get("cause") in remembered and o.get("cause") != cause_id]
    fields = ("id", "topic", "key", "value", "correlationid")
    return [*kept, {"cause": cause_id, **{k: entry[k] for k in fields}}]


UnitOfWorkFactory = Callable[[Cause], UnitOfWork]
