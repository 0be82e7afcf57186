"""The members an instance keeps in memory for client changes are valid for the accounts it
owns. While an account's partitions are elsewhere another instance may change its members, so
when partitions change hands (a real rebalance of the real broker's group) they are read again."""

from __future__ import annotations

from aiokafka.coordinator.assignors.range import RangePartitionAssignor

from contracts.topics import ACCESS_CONTROL_COMMANDS, MEMBERSHIP_EVENTS
from services.access_control.store import key
from tests.kafka_tools import join_and_leave
from tests.servers import Servers
from tests.services.access_control.conftest import AccessHarness


async def rebalance(access: AccessHarness, servers: Servers) -> None:
    """Another member joins the service's group on its two topics (read co-partitioned, so
    with the same assignment strategy), then leaves."""
    group = access.service.runtime.settings.group_id("access_control")
    topics = [ACCESS_CONTROL_COMMANDS, MEMBERSHIP_EVENTS]
    await join_and_leave(
        servers.kafka, group, topics, partition_assignment_strategy=(RangePartitionAssignor,)
    )


async def test_after_a_rebalance_a_client_change_reads_the_members_again(
    access: AccessHarness, servers: Servers
) -> None:
    account = access.account()
    await access.joined(account, "owner-1", ["owner"])
    await access.joined(account, "ann", ["practitioner"])
    await access.ok(
        "SetMemberSecurityTags", account, {"member_id": "ann", "security_tags": ["kids"]}
    )
    granted = await access.ok(
        "RegisterClient", account, {"client_id": "c1", "security_tags": ["kids"]}
    )
    assert {e["data"]["member_id"] for e in granted} == {"ann", "owner-1"}  # members kept now
    # ann re-tagged by another instance while it owned the account's partitions
    members = access.service.store.members.collection
    ann = await members.get(key(account, "ann"))
    assert ann is not None
    retagged = {**ann, "security_tags": ["sport"], "tags": ["sport"], "version": ann["version"] + 1}
    assert await members.replace(retagged, ann["version"])
    await rebalance(access, servers)
    moved = await access.ok(
        "SetClientSecurityTags", account, {"client_id": "c1", "security_tags": ["sport"]}
    )
    # as written: sport-only ann did not see the kids client and sees it now (as kept, a
    # kids-only ann would have lost it)
    assert [(e["data"]["member_id"], e["data"]["granted"]) for e in moved] == [("ann", ["c1"])]
