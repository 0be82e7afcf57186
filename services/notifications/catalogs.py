"""The message ids the emails use (from the templates and `i18n`), and a check that every
language's catalog (English included: its entries are the ids themselves) translates each one.

    python -m services.notifications.catalogs pot     # write locale/messages.pot
    python -m services.notifications.catalogs check   # exit 1 when a catalog misses an entry
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from contracts.common import Locale
from services.notifications.i18n import LOCALE_DIR

HERE = Path(__file__).parent
METHODS = [("templates/**.j2", "jinja2.ext:babel_extract"), ("i18n.py", "python")]
OPTIONS = {"templates/**.j2": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"}}


def message_ids() -> list[str]:
    found: dict[str, None] = {}
    for _, _, message, _, _ in extract_from_dir(
        str(HERE), METHODS, options_map=OPTIONS, keywords={"_": None, "N_": None, "say": None}
    ):
        if isinstance(message, str):
            found[message] = None
    return list(found)


def untranslated(locale: Locale, ids: list[str]) -> Iterator[str]:
    path = LOCALE_DIR / locale.value / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=locale.value)
    for message_id in ids:
        entry = catalog.get(message_id)
        if entry is None or not entry.string:
            yield message_id


def main(argv: list[str]) -> int:
    ids = message_ids()
    if argv[:1] == ["pot"]:
        catalog = Catalog(project="pro-team notifications")
        for message_id in ids:
            catalog.add(message_id)
        with (LOCALE_DIR / "messages.pot").open("wb") as out:
            write_po(out, catalog, omit_header=True, sort_output=True)
        return 0
    missing = [(loc, m) for loc in Locale for m in untranslated(loc, ids)]
    for locale, message_id in missing:
        print(f"{locale.value}: no translation of {message_id!r}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
