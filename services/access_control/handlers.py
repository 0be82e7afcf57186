"""Commands and membership events of the access_control service, each turned into the
visibility changes it causes in the same write: parse -> authorise -> decide -> commit."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from contracts.common import Role
from contracts.envelope import MessageData
from contracts.messages import (
    ClientRegistered,
    ClientRemoved,
    ClientSecurityTagsSet,
    MemberDisconnected,
    MemberJoined,
    MemberRolesChanged,
    RegisterClient,
    RemoveClient,
    SetClientSecurityTags,
    SetMemberSecurityTags,
)
from services.access_control import domain, visibility
from services.access_control.domain import Client, MemberAccess
from services.access_control.history import Because
from services.access_control.members_view import MembersView
from services.access_control.store import AccessStore, key
from services.access_control.visibility import MemberFacts
from services.runtime.authorisation import Authoriser, TeamMember
from services.runtime.clock import Clock
from services.runtime.dispatch import Dispatch, Message
from services.runtime.unit_of_work import Stored, UnitOfWork


class AccessHandlers:
    def __init__(self, store: AccessStore, clock: Clock, projection_grace_seconds: float) -> None:
        self.store = store
        self.clock = clock
        self.members = MembersView(clock)  # `forget_all` on every change of partitions
        # asks the members as kept: this instance alone handles its accounts' records
        self.authoriser = Authoriser(self._kept_member, clock, projection_grace_seconds)

    def register_all(self, dispatch: Dispatch) -> Dispatch:
        return (
            dispatch.on(RegisterClient, self.register_client)
            .on(SetClientSecurityTags, self.set_client_tags)
            .on(RemoveClient, self.remove_client)
            .on(SetMemberSecurityTags, self.set_member_tags)
            .on(MemberJoined, self.member_joined)
            .on(MemberRolesChanged, self.member_roles_changed)
            .on(MemberDisconnected, self.member_disconnected)
        )

    # ---- access-control.commands -------------------------------------------------------------

    async def register_client(self, msg: Message[RegisterClient], uow: UnitOfWork) -> None:
        client_id, tags = msg.data.client_id, msg.data.security_tags
        await self._client(
            msg,
            uow,
            client_id,
            lambda c: replace(c, security_tags=tuple(tags), removed=False),
            must_exist=False,
            applied=ClientRegistered(client_id=client_id, security_tags=tags),
        )

    async def set_client_tags(self, msg: Message[SetClientSecurityTags], uow: UnitOfWork) -> None:
        client_id, tags = msg.data.client_id, msg.data.security_tags
        await self._client(
            msg,
            uow,
            client_id,
            lambda c: replace(c, security_tags=tuple(tags)),
            must_exist=True,
            applied=ClientSecurityTagsSet(client_id=client_id, security_tags=tags),
        )

    async def remove_client(self, msg: Message[RemoveClient], uow: UnitOfWork) -> None:
        client_id = msg.data.client_id
        await self._client(
            msg,
            uow,
            client_id,
            lambda c: replace(c, removed=True),
            must_exist=True,
            applied=ClientRemoved(client_id=client_id),
        )

    async def _client(
        self,
        msg: Message[RegisterClient] | Message[SetClientSecurityTags] | Message[RemoveClient],
        uow: UnitOfWork,
        client_id: str,
        change: Callable[[Client], Client],
        must_exist: bool,
        applied: MessageData,
    ) -> None:
        account = msg.account_id
        stored, members = await asyncio.gather(
            uow.load(self.store.clients, key(account, client_id)), self._members(account)
        )
        actor = await self.authoriser.actor(msg.envelope)
        current = stored.state or Client(account, client_id, removed=True)
        new = change(current)
        old_facts = None if stored.state is None else stored.state.facts
        concerned = visibility.members_concerned(members.values(), old_facts, new.facts)
        client, events = domain.decide_client(
            actor, stored.state, new, must_exist, concerned, self._because(msg), applied
        )
        await uow.commit(stored, client, events)

    async def set_member_tags(self, msg: Message[SetMemberSecurityTags], uow: UnitOfWork) -> None:
        stored, _ = await asyncio.gather(
            self._member(uow, msg.account_id, msg.data.member_id), self._members(msg.account_id)
        )
        actor = await self.authoriser.actor(msg.envelope)
        old = _current(stored, msg.account_id, msg.data.member_id)
        new, applied = domain.decide_member_tags(actor, old, msg.data.security_tags)
        await self._member_moved(msg, stored, old, new, uow, applied)

    # ---- membership.events -------------------------------------------------------------------

    async def member_joined(self, msg: Message[MemberJoined], uow: UnitOfWork) -> None:
        """Active, with the invitation's tags (if it set any) in the same change: a restricted
        practitioner's first answer is already the restricted one."""
        tags = msg.data.security_tags
        await self._member_event(msg, msg.data.member_id, "active", msg.data.roles, uow, tags)

    async def member_roles_changed(self, msg: Message[MemberRolesChanged], uow: UnitOfWork) -> None:
        await self._member_event(msg, msg.data.member_id, None, msg.data.roles, uow)

    async def member_disconnected(self, msg: Message[MemberDisconnected], uow: UnitOfWork) -> None:
        await self._member_event(msg, msg.data.member_id, "disconnected", msg.data.roles, uow)

    async def _member_event(
        self,
        msg: Message[MemberJoined] | Message[MemberRolesChanged] | Message[MemberDisconnected],
        member_id: str,
        status: str | None,
        roles: Sequence[Role],
        uow: UnitOfWork,
        tags: list[str] | None = None,
    ) -> None:
        stored = await self._member(uow, msg.account_id, member_id)
        old = _current(stored, msg.account_id, member_id)
        new = replace(old, status=status or old.status, roles=tuple(r.value for r in roles))
        if tags is not None:
            new = replace(new, security_tags=tuple(tags))
        await self._member_moved(msg, stored, old, new, uow)

    async def _member_moved(
        self,
        msg: Message[Any],
        stored: Stored[MemberAccess],
        old: MemberAccess,
        new: MemberAccess,
        uow: UnitOfWork,
        applied: MessageData | None = None,
    ) -> None:
        """Reads only the clients whose answer the change can move (a re-tag: the clients of
        the tags added or dropped), and commits the member with its visibility events (after
        the command's acknowledgement, `applied`, when a command caused it)."""
        tags = visibility.tags_that_may_change(old.facts, new.facts)
        clients = await self.store.clients_tagged(msg.account_id, tags)
        member, events = domain.member_changed(old, new, clients, self._because(msg))
        try:
            await uow.commit(stored, member, [applied, *events] if applied else events)
        except BaseException:
            self.members.forget(msg.account_id)  # its write may have landed
            raise
        self.members.changed(msg.account_id, member.facts)

    async def _members(self, account: str) -> dict[str, MemberFacts]:
        return await self.members.of(account, lambda: self.store.all_members(account))

    async def _kept_member(self, account: str, member_id: str) -> TeamMember | None:
        member = (await self._members(account)).get(member_id)
        return None if member is None else domain.team_member(member)

    def _because(self, msg: Message[Any]) -> Because:
        return Because(msg.envelope.type, msg.envelope.actorid, self.clock.now())

    async def _member(self, uow: UnitOfWork, account: str, member_id: str) -> Stored[MemberAccess]:
        return await uow.load(self.store.members, key(account, member_id))


def _current(stored: Stored[MemberAccess], account: str, member_id: str) -> MemberAccess:
    return stored.state or MemberAccess(account, member_id)
