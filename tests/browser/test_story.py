"""The seed's story clicked through in a real browser, against the five processes: invite with
a message, Pending, the email in Mailpit, its link, the accept page, Active, tags, the
practitioner's clients, the trash icon and Success."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from gateway.security import user_id_for
from tests.browser.conftest import Web


async def test_the_seed_story_clicked_through(web: Web, unique: str) -> None:
    account, owner, owner_email = (
        f"acct-web-{unique}",
        f"user-olive-{unique}",
        f"olive-{unique}@example.com",
    )
    kim = f"kim-{unique}@example.com"
    await web.register_account(account, owner, owner_email, "Olive Owner")
    await web.register_client(account, owner, "client-adult-1", "adults")
    await web.register_client(account, owner, "client-kid-1", "kids")
    await web.register_client(account, owner, "client-open-1")
    b = web.browser

    # The owner signs in (the demo sign-in: pick yourself among the account's members).
    b.open("/signin")
    b.shot("signin")
    b.fill("account", account)
    b.click("find-members")
    b.shot("pick-member")
    b.sign_in_as_member(account, owner_email)
    assert b.path == f"/accounts/{account}/users"
    assert b.status_of(owner_email) == "Active"

    # Invite with an edited message: the row shows Pending with Resend Invite.
    message = f"Kim, welcome to the clinic! ({unique})"
    b.fill("invite-email", kim)
    b.fill("invite-name", "Kim Practitioner")
    b.fill("invite-message", message)
    b.click("send-invite")
    assert b.flash().startswith(f"Invitation sent to {kim}"), b.flash()
    assert b.status_of(kim) == "Pending"
    assert b.row(kim).find_elements(By.CSS_SELECTOR, "button.resend")
    b.wait_until(lambda: "sent" in b.row(kim).find_element(By.CSS_SELECTOR, ".email-status").text)
    b.shot("users-pending")

    # Resending at once is refused, and the page says why in words.
    b.press(b.row(kim).find_element(By.CSS_SELECTOR, "button.resend"))
    assert "can be resent once every minute" in b.flash(), b.flash()

    # The email in Mailpit carries the message and the button; it opens the gateway's page.
    emails = await web.system.mailbox.wait_for(kim)
    b.open(f"{web.mailpit}/view/{emails[0]['ID']}.html")
    assert message in b.driver.page_source
    b.driver.find_element(By.LINK_TEXT, "Accept Invitation").click()
    b.driver.switch_to.window(b.driver.window_handles[-1])  # the email's link opens a new tab
    b.wait_loaded()
    assert b.path.startswith(f"/accounts/{account}/invitations/"), b.path
    accept_link = b.driver.current_url
    assert "Olive Owner invited you to join" in b.text("invited-by")
    assert f"Clinic {account}" in b.title()

    # Still signed in as the owner: accepting someone else's invitation is refused in words.
    b.click("accept-invitation")
    assert b.title() == "Wrong email address"
    assert "Sign out, then sign in with the invited address" in b.text("result-text")
    b.shot("accept-wrong-email")

    # Kim signs in with the invited address on the accept page and accepts.
    b.sign_out()
    b.open(accept_link)
    b.shot("accept")
    b.sign_in_with_email(kim, "Kim Practitioner")
    assert b.driver.current_url == accept_link  # back on the accept page, signed in
    b.click("accept-invitation")
    assert b.title() == "Welcome"
    assert f"You joined Clinic {account} as practitioner" in b.text("result-text")
    b.shot("accept-joined")
    b.open(accept_link)  # the link again: already used
    assert b.title() == "Already accepted"

    # Untagged, Kim sees every client (tags are what restrict a practitioner).
    b.open(f"/accounts/{account}")
    assert b.path == f"/accounts/{account}/clients"
    # access_control hears of her joining on membership.events, after the welcome page
    b.wait_until(lambda: _clients(web) == ["client-adult-1", "client-kid-1", "client-open-1"])
    # A practitioner has no Users page.
    b.open(f"/accounts/{account}/users")
    assert b.title() == "Not allowed"

    # The owner sees Kim Active, tags her, and tags the open client for adults too.
    b.sign_out()
    b.sign_in_as_member(account, owner_email)
    b.wait_until(lambda: b.status_of(kim) == "Active")
    tags = b.row(kim).find_element(By.CSS_SELECTOR, "input[name=security_tags]")
    tags.clear()
    tags.send_keys("Adults")
    b.press(b.row(kim).find_element(By.CSS_SELECTOR, "button.save-tags"))
    assert b.flash() == "Security tags saved."
    b.shot("users-active")
    b.click("manage-clients")
    open_row = b.driver.find_element(By.CSS_SELECTOR, 'tr.client-row[data-client="client-open-1"]')
    open_tags = open_row.find_element(By.CSS_SELECTOR, "input[name=security_tags]")
    open_tags.clear()
    open_tags.send_keys("adults, north")
    b.press(open_row.find_element(By.CSS_SELECTOR, "button.save-tags"))
    assert b.flash() == "Security tags of client-open-1 saved."
    b.fill("client-id", "client-adult-2")
    b.fill("client-tags", "ADULTS")
    b.click("register-client")
    assert b.flash() == "Client client-adult-2 registered."
    b.shot("clients-manage")

    # Kim, signed in again, sees exactly the clients tagged adults (tags ignore case).
    b.sign_out()
    b.sign_in_as_member(account, kim)
    assert b.path == f"/accounts/{account}/clients"
    b.wait_until(lambda: _clients(web) == ["client-adult-1", "client-adult-2", "client-open-1"])
    b.shot("clients-practitioner")

    # The owner disconnects Kim with the trash icon: a confirmation, then Success.
    b.sign_out()
    b.sign_in_as_member(account, owner_email)
    b.press(b.row(kim).find_element(By.CSS_SELECTOR, "a.trash"))
    assert b.title() == "Disconnect Kim Practitioner?"
    b.shot("disconnect-confirm")
    b.click("confirm-disconnect")
    assert b.flash().startswith("Success"), b.flash()
    b.wait_until(lambda: b.status_of(kim) == "Disconnected")
    assert not b.row(kim).find_elements(By.CSS_SELECTOR, "a.trash")

    async def kim_sees_nothing() -> bool:
        return await web.system.api.visible_clients(account, user_id_for(kim)) == []

    # access_control hears of the disconnect on membership.events, after the Users page shows it
    assert await web.system.eventually(kim_sees_nothing, timeout=30)


def _clients(web: Web) -> list[str]:
    return [str(e.text) for e in web.browser.all("li.client")]
