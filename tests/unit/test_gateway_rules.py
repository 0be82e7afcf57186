"""The reference gateway's pure parts: refusals in words, safe redirects, CSRF tokens, the
demo identity; and that it stands on the client package alone."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from contracts.common import ID_PATTERN
from gateway import words
from gateway.security import Person, csrf_ok, csrf_token, safe_next, user_id_for

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"


def test_a_refused_resend_says_how_long_to_wait() -> None:
    said = words.refusal("ResendInvitation", "rate_limited", "resend at most once per 300 s")
    assert said.startswith("Not resent: an invitation can be resent once every 5 minutes")
    assert said.endswith("(Details: resend at most once per 300 s)")
    assert "once every minute," in words.refusal("ResendInvitation", "rate_limited", "per 60 s")
    assert "once every while" in words.refusal("ResendInvitation", "rate_limited", "")


@pytest.mark.parametrize(
    ("seconds", "said"),
    [(1, "1 seconds"), (90, "90 seconds"), (120, "2 minutes"), (3600, "hour"), (7200, "2 hours")],
)
def test_durations_in_words(seconds: int, said: str) -> None:
    assert words.duration(seconds) == said


def test_every_rejection_reason_has_words() -> None:
    from contracts.common import RejectionReason

    for reason in RejectionReason:
        assert not words.refusal("AnyCommand", reason.value).startswith("Refused (")
    assert words.refusal("AnyCommand", "brand_new_reason") == "Refused (brand_new_reason)."


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/accounts/a/users", "/accounts/a/users"),
        ("/accounts/a/invitations/i/accept?token=t", "/accounts/a/invitations/i/accept?token=t"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_after_sign_in_only_pages_of_this_site(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_a_csrf_token_is_made_once_per_session_and_compared_exactly() -> None:
    session: dict[str, object] = {}
    token = csrf_token(session)
    assert csrf_token(session) == token and len(token) >= 40
    assert csrf_ok(session, token)
    assert not csrf_ok(session, token[:-1] + ("a" if token[-1] != "a" else "b"))
    assert not csrf_ok(session, None) and not csrf_ok(session, "")
    assert not csrf_ok({}, token)  # a session without one accepts nothing


def test_the_demo_identity_is_stable_and_a_valid_user_id() -> None:
    ann = user_id_for("ann@example.com")
    assert ann == user_id_for("ann@example.com") != user_id_for("bob@example.com")
    assert re.fullmatch(ID_PATTERN, ann)


def test_a_session_without_a_whole_person_is_nobody() -> None:
    assert Person.from_session({}) is None
    assert Person.from_session({"person": "ann"}) is None
    assert Person.from_session({"person": {"user_id": "u-1"}}) is None
    ann = Person("u-1", "ann@example.com", "Ann")
    assert Person.from_session({"person": ann.as_session()}) == ann


def test_the_gateway_uses_only_the_client_package() -> None:
    """Never a service's code or database: the client package, contracts, web libraries."""
    for source in GATEWAY.glob("*.py"):
        tree = ast.parse(source.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                top = name.split(".")[0]
                assert top not in {"services", "pymongo", "stack", "demo"}, (source.name, name)
