"""Every email template in every language: subject and both parts translated, dates in the
reader's language and time zone, nothing untranslated or raw left over; a message id a
catalog lacks reads in English (the ids are the English text)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.common import Locale, Role
from services.notifications import catalogs, i18n
from services.notifications.domain import InvitationEmail, WelcomeEmail
from services.notifications.mailer import Renderer

ACCEPT = {
    Locale.EN: "Accept Invitation",
    Locale.ES: "Aceptar invitación",
    Locale.FR: "Accepter l'invitation",
    Locale.DE: "Einladung annehmen",
}
WELCOME = {
    Locale.EN: "Welcome to",
    Locale.ES: "Te damos la bienvenida a",
    Locale.FR: "Bienvenue dans",
    Locale.DE: "Willkommen bei",
}
REMINDER = {
    Locale.EN: "Reminder:",
    Locale.ES: "Recordatorio:",
    Locale.FR: "Rappel :",
    Locale.DE: "Erinnerung:",
}
EXPIRY = datetime(2026, 12, 4, 21, 4, tzinfo=UTC)


def _invitation(locale: Locale, reminder: bool) -> InvitationEmail:
    say = i18n.translations(locale).gettext
    return InvitationEmail(
        product_name="Pro Team",
        account_name="Harbour <Health>",
        inviter_name="Olive",
        invitee_name=None,
        roles=i18n.roles_in_words([Role.PRACTITIONER, Role.BILLING_ADMINISTRATOR], say),
        message="See you Monday",
        accept_url="https://app.example/accounts/a/invitations/i/accept?token=t",
        expires=i18n.readable_time(EXPIRY, locale, "Europe/Berlin"),
        reminder=reminder,
    )


def _clean(text: str) -> None:
    for leftover in ("%(", "{{", "{%", "}}"):
        assert leftover not in text


@pytest.mark.parametrize("locale", list(Locale))
@pytest.mark.parametrize("reminder", [False, True])
async def test_the_invitation_in_every_language(locale: Locale, reminder: bool) -> None:
    rendered = await Renderer().render_all("invitation", _invitation(locale, reminder), locale)
    for part in (rendered.subject, rendered.text, rendered.html):
        _clean(part)
    assert rendered.subject.startswith(REMINDER[locale]) is reminder
    assert ACCEPT[locale] in rendered.text and ACCEPT[locale] in rendered.html.replace("&#39;", "'")
    assert "22:04 Europe/Berlin" in rendered.text  # 21:04 UTC, in the account's zone
    assert "Harbour &lt;Health&gt;" in rendered.html  # names stay escaped in every language
    assert f'lang="{locale.value}"' in rendered.html
    if locale is not Locale.EN:
        english = await Renderer().render_all("invitation", _invitation(Locale.EN, reminder))
        assert rendered.text != english.text and rendered.subject != english.subject


@pytest.mark.parametrize("locale", list(Locale))
async def test_the_welcome_in_every_language(locale: Locale) -> None:
    email = WelcomeEmail("Pro Team", "Harbour", None, i18n.roles_in_words([Role.OWNER]))
    rendered = await Renderer().render_all("welcome", email, locale)
    for part in (rendered.subject, rendered.text, rendered.html):
        _clean(part)
        assert WELCOME[locale] in part


def test_every_catalog_translates_every_message() -> None:
    assert catalogs.main(["check"]) == 0
    assert len(catalogs.message_ids()) >= 20


def test_a_missing_entry_reads_in_english_never_as_a_key() -> None:
    german = i18n.translations(Locale.DE)
    assert german.gettext("Accept Invitation") == "Einladung annehmen"
    assert german.gettext("A sentence no catalog has.") == "A sentence no catalog has."


def test_the_language_falls_back_from_the_invitation_to_the_account_to_english() -> None:
    assert i18n.resolve("fr", "de") is Locale.FR
    assert i18n.resolve(None, "de") is Locale.DE
    assert i18n.resolve(None, None) is Locale.EN
    assert i18n.resolve("xx", None) is Locale.EN
    assert i18n.readable_time(EXPIRY, Locale.EN, None) == "Friday, 4 December 2026 at 21:04 UTC"
