"""The hourly limit's count is kept between commands as a bound, valid for the accounts this
instance owns. While their partition is elsewhere another instance may create invitations, so
when partitions change hands (a real rebalance of the real broker's group) it counts again."""

from __future__ import annotations

import uuid

import pytest

from contracts.topics import INVITATIONS_COMMANDS
from tests.kafka_tools import join_and_leave
from tests.servers import Servers
from tests.services.invitations.conftest import Harness
from tests.services.invitations.test_refusals import reason


async def rebalance(harness: Harness, servers: Servers) -> None:
    """Another member joins the service's group on its command topic, then leaves."""
    group = harness.service.runtime.settings.group_id("invitations")
    await join_and_leave(servers.kafka, group, [INVITATIONS_COMMANDS])


@pytest.mark.parametrize("harness", [{"invites_per_account_per_hour": 3}], indirect=True)
async def test_after_a_rebalance_the_hourly_limit_is_counted_again(
    harness: Harness, servers: Servers
) -> None:
    account = harness.account()
    await harness.seed_account(account)
    for n in range(2):
        await harness.invite(account, f"p{n}@example.com")  # kept: 2 in the last hour
    # one more, by another instance while it owned the account's partition
    await harness.service.store.invitations.collection.insert(
        {
            "_id": str(uuid.uuid4()),
            "version": 1,
            "account_id": account,
            "email": "elsewhere@example.com",
            "status": "revoked",
            "created_at": harness.clock.now(),
        }
    )
    await rebalance(harness, servers)
    extra = {"email": "p3@example.com", "roles": ["practitioner"]}
    assert await reason(harness, "InviteTeamMember", account, extra, "owner-1") == "rate_limited"
