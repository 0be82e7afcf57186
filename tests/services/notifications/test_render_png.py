"""The invitation email as a person sees it: rendered by headless Chromium, kept as a PNG."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from PIL import Image, ImageStat

from services.notifications.domain import InvitationEmail, accept_link, readable_time
from services.notifications.mailer import Renderer

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--blink-settings=imagesEnabled=false",
]


async def test_the_invitation_email_renders_in_chromium_with_images_off(tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    assert chromium, (
        "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
    )
    email = InvitationEmail(
        product_name="Pro Team",
        account_name="Sunrise Health",
        inviter_name="Olive Owner",
        invitee_name="Ann Coach",
        roles="Practitioner and Client administrator",
        message="Welcome aboard!\nWe start Monday at 9. <script>alert(1)</script>",
        accept_url=accept_link(
            "https://app.example.test",
            "acct-42",
            "5f0c2f4e-9a55-4a8e-8d3e-0b1f5d3c1a77",
            "tok_abc-_123",
        ),
        expires=readable_time(datetime(2026, 12, 4, 10, 0, tzinfo=UTC)),
        reminder=False,
    )
    html, _ = await Renderer().render("invitation", email)
    ARTIFACTS.mkdir(exist_ok=True)
    page = ARTIFACTS / "invitation-email.html"
    png = ARTIFACTS / "invitation-email.png"
    page.write_text(html)
    png.unlink(missing_ok=True)
    subprocess.run(
        [
            chromium,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={png}",
            "--window-size=700,900",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    image = Image.open(png).convert("RGB")
    assert image.size == (700, 900)
    colours = image.getcolors(maxcolors=1_000_000) or []
    assert len(colours) > 50, "the screenshot is (nearly) one colour: blank"
    assert max(ImageStat.Stat(image).stddev) > 20
    # the button's green is there: the call to action rendered, not just the background
    greens = sum(n for n, (r, g, b) in colours if (r, g, b) == (0x1F, 0x6F, 0x5C))
    assert greens > 2000
