"""The reference gateway as a fifth process in front of the four services, and Debian's
headless Chromium driving it through chromium-driver (Selenium). Screenshots of each page at
1280 and 375 px wide go to artifacts/browser/."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import TimeoutException, WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from contracts import messages as m
from tests.e2e.conftest import System, start_system, stop_system
from tests.processes import ROOT, ServiceProcess, free_port
from tests.servers import Servers

SHOTS = ROOT / "artifacts" / "browser"
WIDTHS = (1280, 375)


def chromium(scratch: Path) -> webdriver.Chrome:
    """Debian's chromium through Debian's chromedriver: nothing downloads a browser. Its
    temporary files go to `scratch` (it leaves a directory behind in TMPDIR at each quit)."""
    browser, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.fail(
            "the browser tests need Debian's chromium and chromium-driver: "
            "apt-get install chromium chromium-driver (make test installs them)"
        )
    options = Options()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={WIDTHS[0]},900")
    service = Service(executable_path=driver, env={**os.environ, "TMPDIR": str(scratch)})
    return webdriver.Chrome(service=service, options=options)


def not_blank(path: Path) -> None:
    """A screenshot shows a page: many colours, dark text on a light page, not one flat fill."""
    with Image.open(path) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 20) or []
        darkest = min(sum(c[1]) for c in colours)
        assert len(colours) > 50, f"{path.name}: only {len(colours)} colours (blank?)"
        assert darkest < 200, f"{path.name}: no dark pixel (no text?)"


def _gone(element: WebElement) -> bool:
    """Whether the element's page was replaced. Mid-navigation Chromium may answer "node does
    not belong to the document" rather than "stale element": both mean gone."""
    try:
        element.is_enabled()
    except WebDriverException:
        return True
    return False


@dataclass
class Browser:
    driver: webdriver.Chrome
    base: str

    def open(self, path_or_url: str) -> None:
        url = path_or_url if path_or_url.startswith("http") else self.base + path_or_url
        self.driver.get(url)

    @property
    def path(self) -> str:
        return str(self.driver.current_url).removeprefix(self.base)

    def by_id(self, element_id: str, timeout: float = 10) -> WebElement:
        """The element, once the page has it (a page still loading gets `timeout` seconds)."""
        try:
            return WebDriverWait(
                self.driver, timeout, ignored_exceptions=[WebDriverException]
            ).until(lambda d: d.find_element(By.ID, element_id))
        except TimeoutException:
            body = self.driver.find_element(By.TAG_NAME, "body").text[:600]
            raise AssertionError(f"no #{element_id} on {self.driver.current_url}: {body}") from None

    def all(self, css: str) -> list[WebElement]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def wait_loaded(self) -> None:
        """Until a page of the gateway has finished loading (after following an email's link
        into a new tab)."""
        WebDriverWait(self.driver, 30).until(
            lambda d: (
                d.current_url.startswith(self.base)
                and d.execute_script("return document.readyState") == "complete"
            )
        )

    def click(self, element_id: str) -> None:
        self.press(self.by_id(element_id))

    def press(self, element: WebElement) -> None:
        """Click a link or a form's button and wait until the next page replaced this one (so
        nothing is read from the old page)."""
        page = self.driver.find_element(By.TAG_NAME, "html")
        element.click()
        WebDriverWait(self.driver, 60).until(lambda _: _gone(page))
        WebDriverWait(self.driver, 30, ignored_exceptions=[WebDriverException]).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )

    def fill(self, element_id: str, text: str) -> None:
        field = self.by_id(element_id)
        field.clear()
        field.send_keys(text)

    def text(self, element_id: str) -> str:
        return str(self.by_id(element_id).text)

    def title(self) -> str:
        return self.text("page-title")

    def flash(self) -> str:
        return self.text("flash")

    def row(self, email: str) -> WebElement:
        rows = self.all(f'tr.user[data-email="{email}"]')
        assert rows, f"no row for {email} on {self.path}"
        return rows[0]

    def status_of(self, email: str) -> str:
        return str(self.row(email).find_element(By.CSS_SELECTOR, ".status").text)

    def wait_until(self, check: Callable[[], Any], timeout: float = 60, reload: bool = True) -> Any:
        """Until `check` holds, reloading the page between tries (the pages do not poll)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                found = check()
                if found:
                    return found
            except (AssertionError, WebDriverException):
                if time.monotonic() > deadline:
                    raise
            if time.monotonic() > deadline:
                raise AssertionError(f"not so on {self.path} after {timeout}s")
            time.sleep(0.3)
            if reload:
                self.driver.refresh()

    def shot(self, name: str) -> None:
        """The page at each width, kept under artifacts/browser/ and checked not blank."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        for width in WIDTHS:
            self.driver.set_window_size(width, 900)
            path = SHOTS / f"{name}-{width}.png"
            assert self.driver.save_screenshot(str(path))
            not_blank(path)
        self.driver.set_window_size(WIDTHS[0], 900)

    def sign_in_as_member(self, account: str, email: str) -> None:
        self.open("/signin")
        self.fill("account", account)
        self.click("find-members")
        picks = [
            b for b in self.all("button.pick-member") if b.get_attribute("data-email") == email
        ]
        assert picks, f"{email} is not among the members to pick"
        self.press(picks[0])

    def sign_in_with_email(self, email: str, name: str = "") -> None:
        """On a page with the email sign-in form (the sign-in page, or the accept page)."""
        self.fill("email", email)
        if name:
            self.fill("name", name)
        self.click("sign-in-email")

    def sign_out(self) -> None:
        self.click("sign-out")


@dataclass
class Web:
    system: System
    browser: Browser
    url: str
    gateway: ServiceProcess
    mailpit: str

    async def register_account(self, account: str, owner: str, email: str, name: str) -> None:
        command = m.RegisterProAccount(
            account_name=f"Clinic {account}",
            owner_user_id=owner,
            owner_email=email,
            owner_name=name,
        )
        outcome = await self.system.team.request(command, account_id=account, actor_id=owner)
        outcome.accepted()
        # membership shows the owner, and access control lets them manage clients
        await self.system.eventually(lambda: self.system.api.member(account, owner))
        await self.system.eventually(lambda: self._access_control_knows(account, owner))

    async def _access_control_knows(self, account: str, member: str) -> bool:
        return await self.system.api.member_tags(account, member) is not None

    async def register_client(self, account: str, owner: str, client: str, *tags: str) -> None:
        command = m.RegisterClient(client_id=client, security_tags=list(tags))
        outcome = await self.system.team.request(command, account_id=account, actor_id=owner)
        outcome.accepted()


@pytest.fixture
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[webdriver.Chrome]:
    browser = chromium(tmp_path_factory.mktemp("chromium"))
    try:
        yield browser
    finally:
        browser.quit()


@contextlib.asynccontextmanager
async def running_web(
    servers: Servers,
    unique: str,
    tmp_path: Path,
    driver: webdriver.Chrome,
    extra_env: dict[str, str] | None = None,
) -> AsyncIterator[Web]:
    """The four services with ACCEPT_URL_BASE at the gateway, and the gateway."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    system = await start_system(
        servers, unique, tmp_path, extra_env={"ACCEPT_URL_BASE": url, **(extra_env or {})}
    )
    services = {name: f"http://127.0.0.1:{system.port(name)}" for name in system.processes}
    gateway = ServiceProcess(
        "gateway",
        {
            **servers.as_principal("gateway").env(),
            "HTTP_PORT": str(port),
            "INVITATIONS_URL": services["invitations"],
            "MEMBERSHIP_URL": services["membership"],
            "ACCESS_CONTROL_URL": services["access_control"],
            "API_TOKEN": system.api_token,
            "SESSION_SECRET": f"secret-{unique}",
        },
        tmp_path / "gateway.log",
        module="gateway",
    )
    gateway.start()
    try:
        await gateway.wait_ready()
        yield Web(system, Browser(driver, url), url, gateway, servers.mailpit_url)
    finally:
        gateway.stop()
        await stop_system(system)


@pytest.fixture
async def web(
    servers: Servers, unique: str, tmp_path: Path, driver: webdriver.Chrome
) -> AsyncIterator[Web]:
    async with running_web(servers, unique, tmp_path, driver) as running:
        yield running
