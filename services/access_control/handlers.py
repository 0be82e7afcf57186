"""Commands and membership events of the access_control service, each turned into the
visibility changes it causes (computed incrementally) in the same document write."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from pydantic import BaseModel

from contracts.common import RejectionReason, Role
from contracts.envelope import RawEnvelope
from contracts.messages import (
    MemberDisconnected,
    MemberJoined,
    MemberRolesChanged,
    RegisterClient,
    RemoveClient,
    SetClientSecurityTags,
    SetMemberSecurityTags,
)
from contracts.topics import ACCESS_CONTROL_EVENTS
from services.access_control import visibility
from services.access_control.store import AccessStore, client_facts, member_facts
from services.access_control.visibility import Change, ClientFacts, fold
from services.runtime.clock import SystemClock
from services.runtime.consumer import Rejected
from services.runtime.documents import has_handled
from services.runtime.events import caused_by
from services.runtime.inbound import Parsed
from services.runtime.mongo import Document
from services.runtime.outbox import Outbox, outbox_entry
from services.runtime.projection import with_grace

CLIENT_MANAGERS = frozenset({Role.OWNER, Role.ADMINISTRATOR, Role.CLIENT_ADMINISTRATOR})
TEAM_MANAGERS = frozenset({Role.OWNER, Role.ADMINISTRATOR})


class AccessHandlers:
    def __init__(
        self, store: AccessStore, outbox: Outbox, source: str, projection_grace_seconds: float
    ) -> None:
        self.store = store
        self.outbox = outbox
        self.source = source
        self.grace = projection_grace_seconds
        # Commands and membership events of one account arrive on two subscribers; their
        # diffs are computed from each other's facts, so they take turns per account.
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)

    # ---- access-control.commands -------------------------------------------------------------

    async def on_command(self, parsed: Parsed) -> None:
        handlers = {
            "RegisterClient": self.register_client,
            "RemoveClient": self.remove_client,
            "SetClientSecurityTags": self.set_client_tags,
            "SetMemberSecurityTags": self.set_member_tags,
        }
        async with self._locks[parsed.envelope.accountid]:
            await handlers[parsed.envelope.type](parsed.envelope, parsed.data)

    async def register_client(self, command: RawEnvelope, data: BaseModel) -> None:
        assert isinstance(data, RegisterClient)
        await self._change_client(command, data.client_id, data.security_tags, must_exist=False)

    async def set_client_tags(self, command: RawEnvelope, data: BaseModel) -> None:
        assert isinstance(data, SetClientSecurityTags)
        await self._change_client(command, data.client_id, data.security_tags, must_exist=True)

    async def remove_client(self, command: RawEnvelope, data: BaseModel) -> None:
        assert isinstance(data, RemoveClient)
        await self._change_client(command, data.client_id, None, must_exist=True)

    async def _change_client(
        self, command: RawEnvelope, client_id: str, tags: list[str] | None, must_exist: bool
    ) -> None:
        account = command.accountid
        current = await self.store.client(account, client_id)
        if has_handled(current, command.id):
            assert current is not None
            await self.outbox.flush(self.store.clients, current)
            return
        await self._authorise(
            command, CLIENT_MANAGERS, "an owner, administrator or client administrator"
        )
        old = client_facts(current)
        if must_exist and old is None:
            raise Rejected(RejectionReason.NOT_FOUND, f"no client {client_id}")
        new = None if tags is None else ClientFacts(client_id, fold(tags))
        changes = visibility.diff_for_client(await self.store.all_members(account), old, new)
        fields: Document = {
            "_id": f"{account}|{client_id}",
            "account_id": account,
            "client_id": client_id,
            "removed": tags is None,
        }
        if tags is not None:
            fields.update(tags=sorted(new.tags if new else ()), security_tags=tags)
        outbox = self._events(command, changes)
        doc = await self.store.save(self.store.clients, current, fields, command.id, outbox)
        await self.outbox.flush(self.store.clients, doc)

    async def set_member_tags(self, command: RawEnvelope, data: BaseModel) -> None:
        assert isinstance(data, SetMemberSecurityTags)
        account, member_id = command.accountid, data.member_id
        current = await self.store.member(account, member_id)
        if has_handled(current, command.id):
            assert current is not None
            await self.outbox.flush(self.store.members, current)
            return
        await self._authorise(command, TEAM_MANAGERS, "an owner or administrator")
        # Tags of a member this service hasn't seen join yet are kept: they apply on joining.
        await self._change_member(
            command,
            current,
            account,
            member_id,
            {"tags": sorted(fold(data.security_tags)), "security_tags": data.security_tags},
            command.id,
        )

    # ---- membership.events -------------------------------------------------------------------

    async def on_membership_event(self, parsed: Parsed) -> None:
        envelope, data = parsed.envelope, parsed.data
        fields: Document
        if isinstance(data, MemberJoined):
            fields = {"status": "active", "roles": [r.value for r in data.roles]}
        elif isinstance(data, MemberRolesChanged):
            fields = {"roles": [r.value for r in data.roles]}
        elif isinstance(data, MemberDisconnected):
            fields = {"status": "disconnected", "roles": [r.value for r in data.roles]}
        else:
            return
        async with self._locks[envelope.accountid]:
            current = await self.store.member(envelope.accountid, data.member_id)
            if has_handled(current, envelope.id):
                assert current is not None
                await self.outbox.flush(self.store.members, current)
                return
            await self._change_member(
                envelope, current, envelope.accountid, data.member_id, fields, envelope.id
            )

    async def _change_member(
        self,
        cause: RawEnvelope,
        current: Document | None,
        account: str,
        member_id: str,
        fields: Document,
        cause_id: str,
    ) -> None:
        old = member_facts(current, member_id)
        updated = {**(current or {}), **fields}
        new = member_facts(updated, member_id)
        change = visibility.diff_for_member(old, new, await self.store.all_clients(account))
        base: Document = {
            "_id": f"{account}|{member_id}",
            "account_id": account,
            "member_id": member_id,
        }
        outbox = self._events(cause, {member_id: change})
        doc = await self.store.save(
            self.store.members, current, {**base, **fields}, cause_id, outbox
        )
        await self.outbox.flush(self.store.members, doc)

    # ---- helpers -----------------------------------------------------------------------------

    async def _authorise(self, command: RawEnvelope, allowed: frozenset[Role], who: str) -> None:
        actor = await with_grace(
            lambda: self.store.member(command.accountid, command.actorid),
            command.time,
            self.grace,
            SystemClock(),
        )
        facts = member_facts(actor, command.actorid or "")
        if not facts.active or not facts.roles & {r.value for r in allowed}:
            raise Rejected(RejectionReason.FORBIDDEN, f"only {who} of the account may do this")

    def _events(self, cause: RawEnvelope, changes: dict[str, Change]) -> list[Document]:
        entries = []
        for member_id in sorted(changes):
            for index, message in enumerate(visibility.messages(member_id, changes[member_id])):
                event = caused_by(
                    cause, self.source, "ClientVisibilityChanged", message, member_id, str(index)
                )
                entries.append(outbox_entry(ACCESS_CONTROL_EVENTS, event))
        return entries
