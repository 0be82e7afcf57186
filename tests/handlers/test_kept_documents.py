"""A change decided from a document kept in memory stands only through a write that lands:
whatever else it decides (a refusal, or nothing to do) is decided again from the database."""

from __future__ import annotations

import uuid

import pytest

from contracts.common import RejectionReason
from contracts.envelope import RawEnvelope
from contracts.messages import InvitationExpired
from services.runtime.dispatch import Dispatch, Message
from services.runtime.inbound import Parsed
from services.runtime.kept_documents import KeptDocuments
from services.runtime.memory_collection import MemoryStorage
from services.runtime.outbox import Outbox
from services.runtime.publisher import MemoryPublisher
from services.runtime.rules import Refusal
from services.runtime.unit_of_work import Cause, Repository, UnitOfWork
from tests.storage_contract import Note, NoteCodec


def message(text: str) -> Parsed:
    data = InvitationExpired(
        invitation_id="00000000-0000-4000-8000-000000000001", email=f"{text}@example.com"
    )
    envelope = RawEnvelope(
        id=str(uuid.uuid4()),
        source="/test",
        type="InvitationExpired",
        accountid="acct-1",
        data=data.model_dump(),
    )
    return Parsed(envelope, data)


class Notes:
    """A handler that writes the note `n1` with the email's name, unless the note says
    "sealed" (refused) or already holds that text (nothing to do)."""

    def __init__(self) -> None:
        self.kept = KeptDocuments()
        self.repository = Repository(MemoryStorage().collection("notes"), NoteCodec(), self.kept)
        self.outbox = Outbox(MemoryPublisher())
        self.seen: list[tuple[bool, str | None]] = []  # (from memory allowed, text as loaded)
        self.dispatch = Dispatch(self.unit_of_work).on(InvitationExpired, self.handle)

    def unit_of_work(self, cause: Cause) -> UnitOfWork:
        return UnitOfWork(self.outbox, "/test", "test.events", cause)

    async def handle(self, msg: Message[InvitationExpired], uow: UnitOfWork) -> None:
        stored = await uow.load(self.repository, "n1")
        text = msg.data.email.split("@")[0]
        self.seen.append((uow.use_kept, None if stored.state is None else stored.state.text))
        if stored.state is not None and stored.state.text == "sealed":
            raise Refusal(RejectionReason.CONFLICT, "sealed")
        if stored.state is not None and stored.state.text == text:
            return  # nothing to write
        await uow.commit(stored, Note("n1", "acct-1", text), [msg.data])

    async def written_elsewhere(self, text: str) -> None:
        doc = await self.repository.collection.get("n1")
        assert doc is not None
        moved = {**doc, "text": text, "outbox": [], "version": doc["version"] + 1}
        assert await self.repository.collection.replace(moved, doc["version"])


async def test_the_next_change_starts_from_the_document_as_written_without_a_read() -> None:
    notes = Notes()
    await notes.dispatch(message("first"))
    await notes.dispatch(message("second"))
    assert notes.seen == [(True, None), (True, "first")]
    assert (await notes.repository.collection.get("n1") or {})["text"] == "second"


async def kept_then_written_elsewhere(kept: str, stored: str) -> Notes:
    """A note this process wrote as `kept`, which another process has since written as
    `stored`."""
    notes = Notes()
    await notes.dispatch(message(kept))
    await notes.outbox.drain(patience=5)
    await notes.written_elsewhere(stored)
    return notes


async def test_nothing_to_do_by_the_kept_document_is_decided_again_from_the_database() -> None:
    notes = await kept_then_written_elsewhere("same", "other")
    await notes.dispatch(message("same"))  # kept: "same", nothing to do; stored: "other"
    assert notes.seen[1:] == [(True, "same"), (False, "other")]
    assert (await notes.repository.collection.get("n1") or {})["text"] == "same"


async def test_a_refusal_by_the_kept_document_is_decided_again_from_the_database() -> None:
    notes = await kept_then_written_elsewhere("sealed", "open")
    await notes.dispatch(message("again"))  # kept: "sealed", refused; stored: "open"
    assert notes.seen[1:] == [(True, "sealed"), (False, "open")]
    assert (await notes.repository.collection.get("n1") or {})["text"] == "again"
    assert len(notes.kept) == 1  # the write that landed is kept


async def test_a_refusal_by_the_stored_document_stands() -> None:
    notes = Notes()
    await notes.dispatch(message("sealed"))
    notes.kept.forget_all()
    with pytest.raises(Refusal):
        await notes.dispatch(message("again"))
    assert notes.seen[1:] == [(True, "sealed")]  # read from the database: decided once
