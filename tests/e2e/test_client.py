"""The client package against the real system: outcomes by causationid (accepted, rejected,
redelivered, timed out), public events for a consumer group (at least once across a restart),
the tail, and the HTTP side's problems."""

from __future__ import annotations

import pytest

from contracts import messages as m
from contracts.common import Role
from contracts.topics import PUBLIC_EVENT_TOPICS
from pro_team_client import ApiProblem, OutcomeTimeout
from pro_team_client.outcomes import Event
from tests.e2e.conftest import System
from tests.e2e.test_story import register
from tests.kafka_tools import position_group_at_end


async def test_outcomes_accepted_rejected_redelivered_and_timed_out(system: System) -> None:
    account, owner = f"acct-client-{system.unique}", "owner-olive"
    await register(system, account, owner, f"olive-{system.unique}@example.com")
    invite = m.InviteTeamMember(
        email=f"cara-{system.unique}@example.com", roles=[Role.PRACTITIONER]
    )
    first = await system.team.request(invite, account_id=account, actor_id=owner)
    assert first.accepted().type == "InvitationCreated"
    # the same command again (a gateway's retry): the same outcome, same id, nothing new
    again = await system.team.request(
        invite, account_id=account, actor_id=owner, command_id=first.command_id
    )
    assert (again.event.id, again.type) == (first.event.id, "InvitationCreated")
    # another command for the same person: refused, with the reason a gateway can show
    twice = await system.team.request(invite, account_id=account, actor_id=owner)
    assert (twice.rejected, twice.reason) == (True, "already_invited")
    assert twice.event.envelope.causationid == twice.command_id
    # a stranger: forbidden
    stranger = await system.team.request(invite, account_id=account, actor_id="nobody")
    assert stranger.reason == "forbidden"
    with pytest.raises(OutcomeTimeout):
        await system.team.request(
            m.RemoveClient(client_id="c1"), account_id=account, actor_id=owner, timeout=0.001
        )


async def test_events_for_a_consumer_group_are_read_at_least_once(system: System) -> None:
    account, owner = f"acct-events-{system.unique}", "owner-olive"
    group = f"gateway-events-{system.unique}"
    await position_group_at_end(system.admin, group, list(PUBLIC_EVENT_TOPICS))
    await register(system, account, owner, f"olive-{system.unique}@example.com")

    async def ours(limit: int) -> list[Event]:
        seen: list[Event] = []
        async for event in system.team.events(group):
            if event.envelope.accountid == account:
                seen.append(event)
                if len(seen) == limit:
                    break  # the last one's offset is not committed: it was not "done"
        return seen

    first = await ours(2)
    assert [e.type for e in first] == ["ProAccountRegistered", "MemberJoined"]
    assert isinstance(first[0].data, m.ProAccountRegistered)
    after_restart = await ours(1)  # the unfinished one is read again, nothing before it
    assert [e.id for e in after_restart] == [first[1].id]


async def test_the_tail_sees_what_follows_and_the_api_speaks_problems(system: System) -> None:
    account, owner = f"acct-tail-{system.unique}", "owner-olive"
    await register(system, account, owner, f"olive-{system.unique}@example.com")
    async with system.team.tail() as events:
        command = m.RegisterClient(client_id="c1", security_tags=["kids"])
        command_id = await system.team.send(command, account_id=account, actor_id=owner)
        caused = []
        async for event in events:
            if event.envelope.causationid == command_id:
                caused.append(event.type)
                if len(caused) == 2:
                    break
    assert caused == ["ClientRegistered", "ClientVisibilityChanged"]
    assert await system.visible(account, owner) == ["c1"]
    with pytest.raises(ApiProblem) as problem:
        await system.api.users_page("acct-nobody")
    assert (problem.value.problem.status, problem.value.problem.code) == (404, "not-found")


async def test_a_members_row_and_tags_and_the_clients_with_theirs(system: System) -> None:
    """What a gateway needs to show a member and edit tags: one member's row (membership),
    their tags and every client's (access control), None for who is not there."""
    account, owner = f"acct-tags-{system.unique}", "owner-olive"
    await register(system, account, owner, f"olive-{system.unique}@example.com")
    api, team = system.api, system.team
    for client, tags in (("c-2", ["Adults"]), ("c-1", []), ("c-3", ["kids", "North"])):
        command = m.RegisterClient(client_id=client, security_tags=tags)
        (await team.request(command, account_id=account, actor_id=owner)).accepted()
    tag = m.SetMemberSecurityTags(member_id=owner, security_tags=["North", "adults"])
    (await team.request(tag, account_id=account, actor_id=owner)).accepted()

    row = await api.member(account, owner)
    assert row is not None
    assert (row.member_id, row.status.value, row.roles) == (owner, "active", ["owner"])
    assert await api.member(account, "nobody") is None
    only = await api.users_page(account, email=f"OLIVE-{system.unique}@example.com")
    assert [r.member_id for r in only.users] == [owner] and only.next is None
    assert (await api.users_page(account, email="nobody@example.com")).users == []
    assert await api.member(f"{account}-other", owner) is None
    assert await api.member_tags(account, owner) == ["North", "adults"]  # as written
    assert await api.member_tags(account, "nobody") is None
    clients = [(c.client_id, c.security_tags) async for c in api.clients(account)]
    assert clients == [("c-1", []), ("c-2", ["Adults"]), ("c-3", ["kids", "North"])]
    first = await api.clients_page(account, limit=2)
    assert ([c.client_id for c in first.clients], first.next) == (["c-1", "c-2"], "c-2")
    removed = m.RemoveClient(client_id="c-2")
    (await team.request(removed, account_id=account, actor_id=owner)).accepted()
    assert [c.client_id async for c in api.clients(account)] == ["c-1", "c-3"]
    assert [c async for c in api.clients(f"{account}-other")] == []
