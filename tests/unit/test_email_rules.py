"""What an email says, as pure functions."""

from __future__ import annotations

import pytest

from contracts.common import Role
from services.notifications.domain import (
    BadRecipient,
    accept_link,
    header_safe,
    recipient,
    roles_in_words,
)


def test_roles_in_plain_words() -> None:
    assert roles_in_words([Role.PRACTITIONER]) == "Practitioner"
    assert roles_in_words([Role.PRACTITIONER, Role.BILLING_ADMINISTRATOR]) == (
        "Practitioner and Billing administrator"
    )
    assert roles_in_words([Role.ADMINISTRATOR, Role.PRACTITIONER, Role.CLIENT_ADMINISTRATOR]) == (
        "Administrator, Practitioner and Client administrator"
    )


def test_header_safe_removes_every_line_break() -> None:
    assert header_safe("Eve\r\nBcc: x@evil.test") == "Eve Bcc: x@evil.test"
    assert header_safe("a\u2028b\x00c") == "a b c"
    assert header_safe(None) == ""


def test_accept_link_encodes_what_needs_encoding() -> None:
    link = accept_link(
        "https://app.example/", "acct:42", "5f0c2f4e-9a55-4a8e-8d3e-0b1f5d3c1a77", "a+b/c="
    )
    assert link == (
        "https://app.example/accounts/acct%3A42/invitations/"
        "5f0c2f4e-9a55-4a8e-8d3e-0b1f5d3c1a77/accept?token=a%2Bb%2Fc%3D"
    )


@pytest.mark.parametrize("bad", ["nope", "a@b\r\nBcc: x@evil.test", "", "a b@example.com"])
def test_bad_recipients(bad: str) -> None:
    with pytest.raises(BadRecipient):
        recipient(bad)


def test_idn_recipient_is_accepted() -> None:
    assert recipient("josé@exämple.de") == "josé@exämple.de"
