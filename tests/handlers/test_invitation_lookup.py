"""The accept page's look-up: what a link invites to, for its holder only, without consuming
the link; a wrong token and an unknown invitation answer alike; rate limited per invitation."""

from __future__ import annotations

import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.invitations.domain import Invitation, Link, Status, hash_token
from services.invitations.lookup import RateLimit, look_up, mask_email
from tests.handlers.test_invitation_handlers import (
    Invitations,
    accept,
    created,
    invite,
    make,
    registered,
    token_of,
)

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
async def invitations() -> Invitations:
    return await registered(make())


async def lookup(service: Invitations, invitation_id: str, token: str) -> httpx.Response:
    app = service.runtime.http_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.post(
            f"/accounts/acct-1/invitations/{invitation_id}/lookup", json={"token": token}
        )


async def test_the_holder_of_a_link_sees_what_it_invites_to(invitations: Invitations) -> None:
    command = await invite(invitations, "coach.ann@example.com", inviter_name="Olive Owner")
    invitation_id = created(invitations, command)["data"]["invitation_id"]
    token = token_of(invitations, command)
    answer = await lookup(invitations, invitation_id, token)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    assert body == {
        "invitation_id": invitation_id,
        "status": "pending",
        "account_name": "Sunrise Health",
        "inviter_name": "Olive Owner",
        "roles": ["practitioner"],
        "expires_at": body["expires_at"],
        "email_masked": "c***@example.com",
    }
    # the look-up consumed nothing: the same link still accepts
    ok = await accept(invitations, invitation_id, token, email="coach.ann@example.com")
    assert invitations.outcome(ok)["type"] == "InvitationAccepted"
    assert (await lookup(invitations, invitation_id, token)).json()["status"] == "accepted"


async def test_a_wrong_token_and_an_unknown_id_get_the_same_answer(
    invitations: Invitations,
) -> None:
    command = await invite(invitations)
    invitation_id = created(invitations, command)["data"]["invitation_id"]
    wrong = await lookup(invitations, invitation_id, "not-the-token")
    unknown = await lookup(invitations, str(uuid.uuid4()), token_of(invitations, command))
    for answer in (wrong, unknown):
        assert answer.status_code == 404
        problem = answer.json()
        assert problem["type"].endswith("/invalid_token")
        assert problem["detail"] == "unknown or dead invitation link"
    assert wrong.json() | {"instance": ""} == unknown.json() | {"instance": ""}


async def test_look_ups_of_one_invitation_are_rate_limited(invitations: Invitations) -> None:
    command = await invite(invitations)
    invitation_id = created(invitations, command)["data"]["invitation_id"]
    token = token_of(invitations, command)
    answers = [(await lookup(invitations, invitation_id, "guess")).status_code for _ in range(10)]
    assert answers == [404] * 10
    limited = await lookup(invitations, invitation_id, token)  # even the right token now
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    other = created(invitations, await invite(invitations, "bob@example.com"))
    assert (await lookup(invitations, other["data"]["invitation_id"], "guess")).status_code == 404
    invitations.clock.advance(timedelta(minutes=1))
    assert (await lookup(invitations, invitation_id, token)).status_code == 200


def _invitation(token: str) -> Invitation:
    return Invitation(
        id="inv-1",
        account_id="acct-1",
        account_name="Sunrise Health",
        email="ann@example.com",
        roles=(),
        message=None,
        invitee_name=None,
        inviter_id="owner-1",
        inviter_name=None,
        status=Status.PENDING,
        created_at=NOW,
        expires_at=NOW + timedelta(days=7),
        last_sent_at=NOW,
        links=(Link(hash_token(token), NOW),),
    )


def test_the_rules_of_the_look_up() -> None:
    inv = _invitation("right")
    assert look_up(inv, "wrong", NOW, live_links=5) is None
    assert look_up(None, "right", NOW, live_links=5) is None
    view = look_up(inv, "right", NOW + timedelta(days=8), live_links=5)
    assert view is not None and view.status is Status.EXPIRED
    assert mask_email("ann@example.com") == "a***@example.com"
    assert mask_email("a@x.org") == "a***@x.org"


def test_an_unknown_invitation_costs_what_a_wrong_token_costs() -> None:
    """Both hash the token and compare it once in constant time (medians within 3x, which a
    skipped hash would fail by far). The two are timed in turns, so that a noisy moment of the
    machine falls on both (timed one after the other, a CI run once read 0.31x)."""
    inv = _invitation("right")
    samples: dict[Invitation | None, list[float]] = {inv: [], None: []}
    for turn in range(4000):
        target = inv if turn % 2 == 0 else None
        start = time.perf_counter()
        look_up(target, "a-guess-of-some-length-0123456789", NOW, live_links=5)
        samples[target].append(time.perf_counter() - start)
    wrong, unknown = statistics.median(samples[inv]), statistics.median(samples[None])
    assert 1 / 3 < unknown / wrong < 3


def test_the_rate_limit_slides_and_forgets_old_keys() -> None:
    limit = RateLimit(2, timedelta(seconds=60), max_keys=2)
    assert limit.retry_after("a", NOW) is None and limit.retry_after("a", NOW) is None
    assert limit.retry_after("a", NOW + timedelta(seconds=10)) == 50
    assert limit.retry_after("a", NOW + timedelta(seconds=60)) is None
    limit.retry_after("b", NOW)
    limit.retry_after("c", NOW)  # "a" was least recently used: forgotten
    assert limit.retry_after("a", NOW + timedelta(seconds=61)) is None
