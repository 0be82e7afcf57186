"""The emails' languages: gettext catalogs (services/notifications/locale/<ll>/LC_MESSAGES/
messages.po, read with Babel at start; the English text is the message id, so an entry a
catalog lacks falls back to English) and dates in the reader's language and time zone."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from contracts.common import Locale, Role

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT_LOCALE = Locale.EN
# The date and time of an expiry, in each language (CLDR patterns; the zone follows).
_WHEN = {
    Locale.EN: "EEEE, d MMMM y 'at' HH:mm",
    Locale.ES: "EEEE, d 'de' MMMM 'de' y, 'a las' HH:mm",
    Locale.FR: "EEEE d MMMM y 'à' HH:mm",
    Locale.DE: "EEEE, d. MMMM y 'um' HH:mm",
}


def N_(text: str) -> str:  # gettext's name for "translate later"
    """Marks a message id for the catalogs; translated where it is shown."""
    return text


_ROLE_WORDS = {
    Role.OWNER: N_("Owner"),
    Role.PRACTITIONER: N_("Practitioner"),
    Role.ADMINISTRATOR: N_("Administrator"),
    Role.CLIENT_ADMINISTRATOR: N_("Client administrator"),
    Role.BILLING_ADMINISTRATOR: N_("Billing administrator"),
}


def resolve(*choices: str | None) -> Locale:
    """The first of `choices` that is a language we write in, else English."""
    known = {locale.value: locale for locale in Locale}
    for choice in choices:
        if choice is not None and choice in known:
            return known[choice]
    return DEFAULT_LOCALE


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


@cache
def translations(locale: Locale) -> NullTranslations:
    """The catalog of `locale`, compiled in memory from its .po file."""
    path = LOCALE_DIR / locale.value / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale.value)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain="messages")


def readable_time(value: datetime, locale: Locale, time_zone: str | None) -> str:
    """e.g. `Friday, 4 December 2026 at 10:00 UTC`, `viernes, 4 de diciembre de 2026, a las
    11:00 Europe/Madrid`."""
    tz = zone(time_zone)
    when = format_datetime(value.astimezone(tz), _WHEN[locale], locale=locale.value)
    return f"{when} {'UTC' if tz.key == 'UTC' else tz.key}"


def roles_in_words(roles: Sequence[Role], gettext: Callable[[str], str] | None = None) -> str:
    """`Practitioner`, `Practitioner and Billing administrator`, `A, B and C`."""
    say = gettext or (lambda text: text)
    words = [say(_ROLE_WORDS.get(Role(r), str(r))) for r in roles]
    if len(words) <= 1:
        return "".join(words)
    return say("%(first)s and %(last)s") % {"first": ", ".join(words[:-1]), "last": words[-1]}
