"""Membership over the real broker and FerretDB, driven as the gateway and the invitations
service would drive it, read back through the Users page."""

from __future__ import annotations

import pytest

from tests.services.membership.conftest import EXPIRES, MembershipHarness


async def test_register_publishes_the_account_and_the_owner_joining(
    membership: MembershipHarness,
) -> None:
    account = membership.account()
    await membership.register(account)
    joined = await membership.events.wait_for(
        lambda e: e["type"] == "MemberJoined" and e["accountid"] == account
    )
    assert joined[0]["data"]["member_id"] == "owner-1"
    assert joined[0]["data"]["roles"] == ["owner"]
    assert joined[0]["data"]["invitation_id"] is None
    rows = await membership.rows(account)
    assert [(r["member_id"], r["status"], r["roles"]) for r in rows] == [
        ("owner-1", "active", ["owner"])
    ]


async def test_registering_again_is_idempotent_for_the_same_owner_and_a_conflict_otherwise(
    membership: MembershipHarness,
) -> None:
    account = membership.account()
    await membership.register(account)
    await membership.register(account)
    data = {
        "account_name": "Other",
        "owner_user_id": "someone-else",
        "owner_email": "x@example.com",
    }
    assert (
        await membership.rejection("RegisterProAccount", account, data, "someone-else")
        == "conflict"
    )
    await membership.events.settle(0.5)
    joined = [e for e in membership.events.envelopes(account) if e["type"] == "MemberJoined"]
    assert len(joined) == 1
    assert len(await membership.rows(account)) == 1


async def test_the_seed_story_membership_side(membership: MembershipHarness) -> None:
    account = membership.account()
    await membership.register(account)
    invitation_id = await membership.invited(account, "ann@example.com")
    pending = await membership.wait_row(account, "ann@example.com", "pending")
    assert pending is not None
    assert pending == {
        "member_id": None,
        "invitation_id": invitation_id,
        "email": "ann@example.com",
        "name": "Ann",
        "roles": ["practitioner"],
        "status": "pending",
        "invited_at": pending["invited_at"],
        "joined_at": None,
        "expires_at": EXPIRES,
        "resend_count": 0,
        # added by the onboarding issue: no tags on this invitation, no word from the email
        "security_tags": None,
        "email_status": "sending",
        "email_failure": None,
    }
    await membership.invitation_event(
        "InvitationResent",
        account,
        {
            "invitation_id": invitation_id,
            "email": "ann@example.com",
            "roles": ["practitioner"],
            "inviter_id": "owner-1",
            "account_name": "P",
            "expires_at": "2026-12-05T10:00:00.000Z",
            "accept_token": "t",
            "resend_count": 1,
        },
    )
    for _ in range(100):
        row = await membership.wait_row(account, "ann@example.com", "pending")
        if row and row["resend_count"] == 1:
            break
    assert row is not None and row["expires_at"] == "2026-12-05T10:00:00.000Z"

    joined = await membership.accepted(account, "ann@example.com", invitation_id, "user-ann")
    await membership.accepted(account, "ann@example.com", invitation_id, "user-ann")  # duplicate
    await membership.events.settle(1)
    joins = [
        e
        for e in membership.events.envelopes(account)
        if e["type"] == "MemberJoined" and e["data"]["member_id"] == "user-ann"
    ]
    assert len(joins) == 1
    assert joined["data"]["roles"] == ["practitioner"]
    active = await membership.wait_row(account, "ann@example.com", "active")
    assert active is not None and active["member_id"] == "user-ann" and active["expires_at"] is None

    disconnected = await membership.outcome(
        "DisconnectMember", account, {"member_id": "user-ann"}, "owner-1"
    )
    assert disconnected["type"] == "MemberDisconnected"
    assert disconnected["data"]["disconnected_by"] == "owner-1"
    assert disconnected["data"]["roles"] == ["practitioner"]
    await membership.wait_row(account, "ann@example.com", "disconnected")

    again = await membership.invited(account, "ann@example.com", ["administrator"])
    rejoined = await membership.accepted(
        account, "ann@example.com", again, "user-ann", ["administrator"]
    )
    assert rejoined["data"]["roles"] == ["administrator"]
    rows = await membership.rows(account, "active")
    assert sorted(r["member_id"] for r in rows) == ["owner-1", "user-ann"]
    assert len(await membership.rows(account)) == 2  # one row per person


async def test_expired_and_revoked_invitations_on_the_users_page(
    membership: MembershipHarness,
) -> None:
    account = membership.account()
    await membership.register(account)
    expiring = await membership.invited(account, "exp@example.com")
    revoked = await membership.invited(account, "rev@example.com")
    await membership.invitation_event(
        "InvitationExpired", account, {"invitation_id": expiring, "email": "exp@example.com"}
    )
    await membership.invitation_event(
        "InvitationRevoked",
        account,
        {"invitation_id": revoked, "email": "rev@example.com", "revoked_by": "owner-1"},
    )
    await membership.wait_row(account, "exp@example.com", "expired")
    await membership.wait_row(account, "rev@example.com", None)
    assert [r["email"] for r in await membership.rows(account, "expired")] == ["exp@example.com"]
    assert [r["email"] for r in await membership.rows(account, "pending")] == []


async def test_roles_change_with_previous_roles_and_the_owner_is_untouchable(
    membership: MembershipHarness,
) -> None:
    account = membership.account()
    await membership.register(account)
    await membership.join(account, "admin-1", ["administrator"])
    await membership.join(account, "prac-1", ["practitioner"])
    changed = await membership.outcome(
        "ChangeMemberRoles",
        account,
        {"member_id": "prac-1", "roles": ["practitioner", "billing_administrator"]},
        "admin-1",
    )
    assert changed["type"] == "MemberRolesChanged"
    assert changed["data"] == {
        "member_id": "prac-1",
        "roles": ["practitioner", "billing_administrator"],
        "previous_roles": ["practitioner"],
        "changed_by": "admin-1",
    }
    for actor in ("owner-1", "admin-1"):
        assert (
            await membership.rejection("DisconnectMember", account, {"member_id": "owner-1"}, actor)
            == "forbidden"
        )
        assert (
            await membership.rejection(
                "ChangeMemberRoles",
                account,
                {"member_id": "owner-1", "roles": ["practitioner"]},
                actor,
            )
            == "forbidden"
        )
    assert (
        await membership.rejection(
            "ChangeMemberRoles", account, {"member_id": "prac-1", "roles": ["owner"]}, "owner-1"
        )
        == "invalid"
    )
    assert (
        await membership.rejection(
            "ChangeMemberRoles", account, {"member_id": "prac-1", "roles": []}, "owner-1"
        )
        == "invalid"
    )


async def test_only_active_owners_and_admins_manage_and_unknown_members_are_not_found(
    membership: MembershipHarness,
) -> None:
    account = membership.account()
    await membership.register(account)
    await membership.join(account, "prac-1", ["practitioner"])
    await membership.join(account, "cadmin-1", ["client_administrator"])
    await membership.join(account, "gone-1", ["administrator"])
    await membership.outcome("DisconnectMember", account, {"member_id": "gone-1"}, "owner-1")
    for actor in ("prac-1", "cadmin-1", "gone-1", "stranger", None):
        assert (
            await membership.rejection("DisconnectMember", account, {"member_id": "prac-1"}, actor)
            == "forbidden"
        )
    assert (
        await membership.rejection("DisconnectMember", account, {"member_id": "nobody"}, "owner-1")
        == "not_found"
    )
    assert (
        await membership.rejection("DisconnectMember", account, {"member_id": "gone-1"}, "owner-1")
        == "not_found"
    )
    await membership.invited(account, "pending@example.com")
    assert (
        await membership.rejection(
            "DisconnectMember", account, {"member_id": "../etc/passwd"}, "owner-1"
        )
        == "invalid"
    )


async def test_tenant_isolation(membership: MembershipHarness) -> None:
    a, b = membership.account("a"), membership.account("b")
    await membership.register(a, "owner-a")
    await membership.register(b, "owner-b")
    await membership.join(b, "prac-b", ["practitioner"])
    assert (
        await membership.rejection("DisconnectMember", b, {"member_id": "prac-b"}, "owner-a")
        == "forbidden"
    )
    assert (
        await membership.rejection("DisconnectMember", a, {"member_id": "prac-b"}, "owner-a")
        == "not_found"
    )
    assert [r["email"] for r in await membership.rows(a)] == ["owner-a@example.com"]
    assert (await membership.wait_row(b, "prac-b@example.com", "active")) is not None


async def test_users_page_filters_and_404(membership: MembershipHarness) -> None:
    account = membership.account()
    await membership.register(account)
    await membership.invited(account, "p@example.com")
    assert [r["status"] for r in await membership.rows(account, "active")] == ["active"]
    assert [r["email"] for r in await membership.rows(account, "pending")] == ["p@example.com"]
    assert await membership.rows(account, "disconnected") == []
    assert (await membership.users(account, "bogus")).status_code == 400
    assert (await membership.users("acct-unknown")).status_code == 404
    assert (await membership.users("..%2F..%2Fetc")).status_code == 404


@pytest.mark.parametrize("membership", [{"api_token": "s3cret"}], indirect=True)
async def test_users_page_requires_the_bearer_token_when_set(membership: MembershipHarness) -> None:
    account = membership.account()
    await membership.register(account)
    assert (await membership.users(account)).status_code == 401
    assert (await membership.users(account, token="wrong")).status_code == 401
    ok = await membership.users(account, token="s3cret")
    assert ok.status_code == 200 and len(ok.json()["users"]) == 1


async def test_no_secret_travels_on_membership_events(membership: MembershipHarness) -> None:
    account = membership.account()
    await membership.register(account)
    await membership.join(account, "prac-1")
    await membership.events.settle(0.5)
    for record in membership.events.records:
        assert b"secret-token" not in record.value
        assert b"accept_token" not in record.value
