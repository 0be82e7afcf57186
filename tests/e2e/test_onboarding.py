"""Onboarding a clinic's team over Kafka and HTTP, through the client package: an invitation
that sets security tags gives a practitioner who never, from the moment they accept, sees more
than those tags allow."""

from __future__ import annotations

import asyncio
import contextlib

from contracts import messages as m
from contracts.common import Role
from tests.e2e.conftest import System
from tests.e2e.test_story import register


async def test_tags_on_the_invitation_apply_with_no_moment_of_wider_visibility(
    system: System,
) -> None:
    team, api = system.team, system.api
    account, owner = f"acct-tags-{system.unique}", "owner-olive"
    await register(system, account, owner, f"olive-tags-{system.unique}@example.com")
    for client, tags in (("kid-1", ["kids"]), ("adult-1", ["adults"]), ("plain", [])):
        registered = m.RegisterClient(client_id=client, security_tags=tags)
        (await team.request(registered, account_id=account, actor_id=owner)).accepted()
    email = f"tagged-{system.unique}@example.com"
    invite = m.InviteTeamMember(
        email=email, roles=[Role.PRACTITIONER], security_tags=["Kids"], expires_in_days=3
    )
    created = (await team.request(invite, account_id=account, actor_id=owner)).accepted().data
    assert isinstance(created, m.InvitationCreated) and created.security_tags == ["Kids"]
    rows = [row async for row in api.users(account) if row.email == email]
    assert rows and rows[0].security_tags == ["Kids"] and rows[0].status.value == "pending"
    token = await system.token_for(created.invitation_id)

    answers: list[list[str]] = []

    async def watch() -> None:
        while True:
            answers.append(await api.visible_clients(account, "user-tagged"))
            await asyncio.sleep(0.02)

    async with team.tail() as events:
        watcher = asyncio.create_task(watch())
        accept = m.AcceptInvitation(
            invitation_id=created.invitation_id, token=token, user_id="user-tagged", email=email
        )
        (await team.request(accept, account_id=account)).accepted()
        changes: list[m.ClientVisibilityChanged] = []
        async with asyncio.timeout(60):
            async for event in events:
                data = event.data
                if isinstance(data, m.ClientVisibilityChanged) and data.member_id == "user-tagged":
                    changes.append(data)
                    if "kid-1" in data.granted:
                        break
        await system.eventually(lambda: _sees(system, account, ["kid-1"]))
        await asyncio.sleep(0.5)  # more answers after the grant
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
    assert [(c.granted, c.revoked) for c in changes] == [(["kid-1"], [])]
    assert answers and all(set(answer) <= {"kid-1"} for answer in answers), answers
    assert answers[-1] == ["kid-1"]


async def _sees(system: System, account: str, expected: list[str]) -> bool:
    return await system.visible(account, "user-tagged") == expected
