"""Every way the accept page can end, in words: withdrawn, not a valid link, expired (ask for
a new invitation). Invitations here live about 25 seconds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from contracts import messages as m
from contracts.common import Role
from tests.browser.conftest import Web, running_web
from tests.servers import Servers

LIFETIME_DAYS = 0.0003  # 25.9 s


@pytest.fixture
async def short_lived(
    servers: Servers, unique: str, tmp_path: Path, driver: webdriver.Chrome
) -> AsyncIterator[Web]:
    env = {"INVITATION_TTL_DAYS": str(LIFETIME_DAYS), "INVITATION_REMINDERS": "false"}
    async with running_web(servers, unique, tmp_path, driver, env) as running:
        yield running


async def test_withdrawn_invalid_and_expired_links_say_so(short_lived: Web, unique: str) -> None:
    web, b = short_lived, short_lived.browser
    account, owner, owner_email = (
        f"acct-end-{unique}",
        f"user-o-{unique}",
        f"o-{unique}@example.com",
    )
    await web.register_account(account, owner, owner_email, "Olive Owner")
    links: dict[str, str] = {}
    for who in ("revoked", "expiring"):
        command = m.InviteTeamMember(
            email=f"{who}-{unique}@example.com", roles=[Role.CLIENT_ADMINISTRATOR]
        )
        outcome = await web.system.team.request(command, account_id=account, actor_id=owner)
        created = outcome.accepted().data
        token = await web.system.token_for(created.invitation_id)
        links[who] = f"/accounts/{account}/invitations/{created.invitation_id}/accept?token={token}"
        expires_at = created.expires_at

    # The owner revokes one with the Revoke button on its Pending row.
    b.sign_in_as_member(account, owner_email)
    row = b.row(f"revoked-{unique}@example.com")
    b.press(row.find_element(By.CSS_SELECTOR, "button.revoke"))
    assert b.flash() == "Invitation revoked: its link no longer works."
    b.sign_out()

    b.open(links["revoked"])
    assert b.title() == "Invitation withdrawn"
    b.shot("accept-revoked")

    b.open(links["expiring"] + "x")  # a token one character off
    assert b.title() == "This link does not work"
    b.shot("accept-invalid-link")
    b.open(f"/accounts/{account}/invitations/not-an-id/accept?token=abc")
    assert b.title() == "This link does not work"

    # The other one, once its lifetime is over.
    await asyncio.sleep((expires_at - datetime.now(UTC)).total_seconds() + 1)
    b.open(links["expiring"])
    assert b.title() == "Invitation expired"
    assert "Ask the person who invited you for a new invitation" in b.text("result-text")
    b.shot("accept-expired")
