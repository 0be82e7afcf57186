"""The invitation rules as pure functions: fast, no servers involved."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from contracts.common import RejectionReason, Role
from contracts.messages import AcceptInvitation, InviteTeamMember
from services.invitations import domain
from services.invitations.domain import Policy, Status
from services.runtime.authorisation import TeamMember as Actor
from services.runtime.rules import Refusal

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
POLICY = Policy()
OWNER = Actor("owner-1", frozenset({Role.OWNER}), active=True)
ADMIN = Actor("admin-1", frozenset({Role.ADMINISTRATOR}), active=True)
INVITATION_ID = "5f0c2f4e-9a55-4a8e-8d3e-0b1f5d3c1a77"


def invite(actor: Actor | None = OWNER, **overrides: object) -> domain.Invitation:
    args: dict = dict(
        invitation_id=INVITATION_ID,
        account_id="acct-1",
        command=InviteTeamMember(email="ann@example.com", roles=["practitioner"]),
        actor=actor,
        account_name="Practice",
        is_active_member=False,
        pending=None,
        invitations_last_hour=0,
        token_hash=domain.hash_token("t0"),
        now=NOW,
        policy=POLICY,
    )
    args.update(overrides)
    invitation, _ = domain.decide_invite(**args)
    return invitation


def refusal(call) -> RejectionReason:  # type: ignore[no-untyped-def]
    with pytest.raises(Refusal) as raised:
        call()
    return raised.value.reason


@pytest.mark.parametrize(
    "actor",
    [
        None,
        Actor("p", frozenset({Role.PRACTITIONER}), True),
        Actor("c", frozenset({Role.CLIENT_ADMINISTRATOR}), True),
        Actor("b", frozenset({Role.BILLING_ADMINISTRATOR}), True),
        Actor("x", frozenset({Role.ADMINISTRATOR}), active=False),
        Actor("o", frozenset({Role.OWNER}), active=False),
    ],
)
def test_only_active_owners_and_admins_invite(actor: Actor | None) -> None:
    assert refusal(lambda: invite(actor)) is RejectionReason.FORBIDDEN


def test_owner_and_admin_invite_with_a_7_day_expiry() -> None:
    for actor in (OWNER, ADMIN):
        invitation = invite(actor)
        assert invitation.status is Status.PENDING
        assert invitation.expires_at == NOW + timedelta(days=7)
        assert invitation.inviter_id == actor.member_id


def test_member_pending_and_rate_limit_refusals() -> None:
    assert refusal(lambda: invite(is_active_member=True)) is RejectionReason.ALREADY_MEMBER
    pending = invite()
    assert refusal(lambda: invite(pending=pending)) is RejectionReason.ALREADY_INVITED
    assert refusal(lambda: invite(invitations_last_hour=200)) is RejectionReason.RATE_LIMITED
    invite(invitations_last_hour=199)


def test_an_overdue_pending_invitation_does_not_block_a_new_one() -> None:
    pending = invite()
    later = NOW + timedelta(days=7)
    assert invite(pending=pending, now=later).created_at == later


def test_message_limit_is_a_setting() -> None:
    long = InviteTeamMember(email="a@example.com", roles=["practitioner"], message="x" * 101)
    with pytest.raises(Refusal):
        invite(command=long, policy=Policy(max_message_chars=100))


def accept(
    inv: domain.Invitation, token: str = "t0", email: str = "ann@example.com", at: datetime = NOW
):
    command = AcceptInvitation(invitation_id=inv.id, token=token, user_id="u", email=email)
    return domain.decide_accept(inv=inv, command=command, now=at, policy=POLICY)


def test_accept_rules_in_order() -> None:
    inv = invite()
    assert refusal(lambda: accept(inv, token="nope")) is RejectionReason.INVALID_TOKEN
    assert refusal(lambda: accept(inv, email="eve@example.com")) is RejectionReason.EMAIL_MISMATCH
    assert refusal(lambda: accept(inv, at=NOW + timedelta(days=7))) is RejectionReason.EXPIRED
    accepted, event = accept(inv)
    assert accepted.status is Status.ACCEPTED and event.user_id == "u"
    assert refusal(lambda: accept(accepted)) is RejectionReason.ALREADY_ACCEPTED
    assert refusal(lambda: accept(accepted, token="nope")) is RejectionReason.INVALID_TOKEN
    unknown = AcceptInvitation(invitation_id=INVITATION_ID, token="t0", user_id="u", email="a@b.co")
    assert (
        refusal(lambda: domain.decide_accept(inv=None, command=unknown, now=NOW, policy=POLICY))
        is RejectionReason.INVALID_TOKEN
    )


def test_resend_keeps_the_five_newest_links_and_extends_expiry() -> None:
    inv = invite()
    at = NOW
    for n in range(1, 6):
        at += timedelta(seconds=61)
        inv, event = domain.decide_resend(
            inv=inv,
            actor=OWNER,
            other_pending=None,
            token_hash=domain.hash_token(f"t{n}"),
            now=at,
            policy=POLICY,
        )
        assert event.resend_count == n
    assert inv.expires_at == at + timedelta(days=7)
    assert refusal(lambda: accept(inv, token="t0", at=at)) is RejectionReason.INVALID_TOKEN
    for n in range(1, 6):
        accept(inv, token=f"t{n}", at=at)


def test_resend_is_rate_limited_and_revives_expired() -> None:
    inv = invite()
    assert (
        refusal(
            lambda: domain.decide_resend(
                inv=inv,
                actor=OWNER,
                other_pending=None,
                token_hash="h",
                now=NOW + timedelta(seconds=59),
                policy=POLICY,
            )
        )
        is RejectionReason.RATE_LIMITED
    )
    expired, _ = domain.decide_expire(inv, NOW + timedelta(days=8)) or (None, None)
    assert expired is not None and expired.status is Status.EXPIRED
    revived, _ = domain.decide_resend(
        inv=expired,
        actor=OWNER,
        other_pending=None,
        token_hash="h",
        now=NOW + timedelta(days=8),
        policy=POLICY,
    )
    assert revived.status is Status.PENDING


def test_revoke_and_expire() -> None:
    inv = invite()
    revoked, event = domain.decide_revoke(inv=inv, actor=ADMIN, now=NOW)
    assert revoked.status is Status.REVOKED and event.revoked_by == "admin-1"
    assert (
        refusal(lambda: domain.decide_revoke(inv=revoked, actor=ADMIN, now=NOW))
        is RejectionReason.REVOKED
    )
    assert refusal(lambda: accept(revoked)) is RejectionReason.REVOKED
    assert domain.decide_expire(inv, NOW + timedelta(days=6)) is None
    assert domain.decide_expire(revoked, NOW + timedelta(days=8)) is None
