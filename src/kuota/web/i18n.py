"""The portal's languages: Bahasa Indonesia (default), English and Chinese, from Babel
message catalogs (`locales/<lang>/LC_MESSAGES/messages.po`).

Message ids are English. Catalogs are read with Babel when first needed and kept in
memory; `missing_translations` lists every message the templates and web code use
that a catalog lacks (the test suite requires none).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

LOCALES = ("id", "en", "zh")
DEFAULT_LOCALE = "id"
LOCALE_NAMES = {"id": "Bahasa Indonesia", "en": "English", "zh": "中文"}
HERE = Path(__file__).parent
CATALOG_DIR = HERE / "locales"

_METHOD_MAP = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
_OPTIONS = {"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}


def pick(candidate: str | None) -> str | None:
    """The supported locale a `?lang=` value or a cookie names, if any."""
    if not candidate:
        return None
    code = candidate.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LOCALES else None


@lru_cache(maxsize=len(LOCALES))
def catalog(locale: str) -> dict[str | tuple[str, str], str | tuple[str, ...]]:
    path = CATALOG_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        parsed = read_po(handle, locale=locale)
    entries: dict[Any, str | tuple[str, ...]] = {}
    for message in parsed:
        if not message.id or message.fuzzy:
            continue
        key = message.id if isinstance(message.id, str) else tuple(message.id)
        text = message.string
        if isinstance(text, str) and text:
            entries[key] = text
        elif isinstance(text, (tuple, list)) and all(text):
            entries[key] = tuple(text)
    return entries


@dataclass(frozen=True, slots=True)
class Translator:
    locale: str

    def gettext(self, message: str, **values: Any) -> str:
        found = catalog(self.locale).get(message)
        text = found if isinstance(found, str) else message
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, count: int, **values: Any) -> str:
        found = catalog(self.locale).get((singular, plural))
        values.setdefault("num", count)
        if isinstance(found, tuple):
            # Indonesian and Chinese have one form; English has two.
            text = found[0] if len(found) == 1 or count == 1 else found[1]
        else:
            text = singular if count == 1 else plural
        return text % values


def N_(message: str) -> str:
    """Marks a message for the catalog where it is defined; translated where shown."""
    return message


def used_messages() -> Iterator[tuple[str, str | tuple[str, str], int]]:
    """(file, message id, line) for every translatable message of the portal."""
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(HERE), _METHOD_MAP, _OPTIONS, keywords=KEYWORDS
    ):
        key = message if isinstance(message, str) else (message[0], message[1])
        yield filename, key, lineno


def missing_translations() -> list[str]:
    missing = []
    for filename, key, lineno in used_messages():
        for locale in LOCALES:
            if key not in catalog(locale):
                missing.append(f"{locale}: {filename}:{lineno}: {key!r}")
    return missing
