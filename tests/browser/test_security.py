"""The gateway's trust boundaries in a real browser: another account's pages do not exist,
forms without this session's CSRF token are refused, the session cookie is signed, HttpOnly
and SameSite, and every page carries a strict Content-Security-Policy and no script."""

from __future__ import annotations

import uuid

import httpx
from selenium.webdriver.common.by import By

from gateway.app import SESSION_COOKIE
from tests.browser.conftest import Web


async def test_another_account_and_forged_forms_are_refused(web: Web, unique: str) -> None:
    mine, theirs = f"acct-mine-{unique}", f"acct-theirs-{unique}"
    owner, owner_email = f"user-olive-{unique}", f"olive-{unique}@example.com"
    other, other_email = f"user-bea-{unique}", f"bea-{unique}@example.com"
    await web.register_account(mine, owner, owner_email, "Olive Owner")
    await web.register_account(theirs, other, other_email, "Bea Owner")
    await web.register_client(theirs, other, "their-client-1")
    b = web.browser

    # Not signed in: a page asks for sign-in first and comes back after.
    b.open(f"/accounts/{mine}/users")
    assert b.path == f"/signin?next=/accounts/{mine}/users"
    b.fill("account", mine)
    b.click("find-members")
    b.sign_in_as_member(mine, owner_email)
    cookie = b.driver.get_cookie(SESSION_COOKIE)
    assert cookie is not None
    assert (cookie["httpOnly"], cookie["sameSite"]) == (True, "Lax")

    # Another account's pages answer 404 to a signed-in owner.
    for page in ("users", "clients", "clients/manage", f"members/{other}/disconnect"):
        b.open(f"/accounts/{theirs}/{page}")
        assert b.title() == "Not found", page
    b.shot("not-found")

    # Forged posts carrying the real session cookie but not its CSRF token do nothing.
    b.open(f"/accounts/{mine}/users")
    token = b.driver.find_element(By.CSS_SELECTOR, "input[name=csrf_token]").get_attribute("value")
    forged = f"forged-{unique}@example.com"
    async with httpx.AsyncClient(
        base_url=web.url, cookies={SESSION_COOKIE: cookie["value"]}
    ) as http:
        form = {"email": forged, "roles": "practitioner"}
        missing = await http.post(f"/accounts/{mine}/invitations", data=form)
        wrong = await http.post(
            f"/accounts/{mine}/invitations", data=form | {"csrf_token": "x" * 43}
        )
        for answer in (missing, wrong):
            assert answer.status_code == 403
            assert "did not come from this site" in answer.text
        # A valid token does not open another account either.
        there = await http.post(
            f"/accounts/{theirs}/invitations", data=form | {"csrf_token": token}
        )
        assert there.status_code == 404
        kept = await http.post(
            f"/accounts/{theirs}/members/{other}/disconnect", data={"csrf_token": token}
        )
        assert kept.status_code == 404

    # A real invitation after the forged ones shows up; the forged address never does (an
    # account's commands are handled in order, so it would have shown up first).
    real = f"real-{unique}@example.com"
    b.open(f"/accounts/{mine}/users")
    b.fill("invite-email", real)
    b.click("send-invite")
    assert b.flash().startswith(f"Invitation sent to {real}")
    emails = {row["email"] for row in await web.system.users(mine)}
    assert real in emails and forged not in emails
    assert other_email not in {row["email"] for row in await web.system.users(mine)}
    assert {row["email"] for row in await web.system.users(theirs)} == {other_email}

    # A session cookie changed by hand is not a session.
    b.driver.delete_cookie(SESSION_COOKIE)
    b.driver.add_cookie({"name": SESSION_COOKIE, "value": "x" + cookie["value"][1:], "path": "/"})
    b.open(f"/accounts/{mine}/users")
    assert b.path.startswith("/signin")


async def test_every_page_has_a_strict_policy_and_no_script(web: Web, unique: str) -> None:
    async with httpx.AsyncClient(base_url=web.url) as http:
        for path in (
            "/signin",
            "/signin/members?account=nobody",
            "/no/such/page",
            f"/accounts/a-{unique}/invitations/x/accept?token=y",
            "/static/gateway.css",
        ):
            answer = await http.get(path)
            policy = answer.headers["content-security-policy"]
            assert "default-src 'none'" in policy and "form-action 'self'" in policy, path
            assert "unsafe-inline" not in policy and "script-src" not in policy, path
            assert answer.headers["x-frame-options"] == "DENY"
            assert answer.headers["referrer-policy"] == "no-referrer"
            assert "<script" not in answer.text.lower(), path
    async with httpx.AsyncClient(base_url=web.url) as http:
        signin = await http.get("/signin")
        set_cookie = signin.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=lax" in set_cookie
        token = signin.text.split('name="csrf_token" value="')[1].split('"')[0]
        # Pressing Accept after the session ended: back to the link's page, which asks to sign in.
        accept = f"/accounts/a-{unique}/invitations/{uuid.uuid4()}/accept"
        answer = await http.post(accept, data={"csrf_token": token, "token": "t o/k"})
        assert (answer.status_code, answer.headers["location"]) == (
            303,
            f"{accept}?token=t%20o%2Fk",
        )
        # Signing in never sends anyone to another site.
        answer = await http.post(
            "/signin/email",
            data={
                "csrf_token": token,
                "email": f"x-{unique}@example.com",
                "next": "//evil.example/",
            },
        )
        assert (answer.status_code, answer.headers["location"]) == (303, "/")
