"""The portal's message catalogs: complete, well formed, and used the way i18n.py reads them.

After a template or web module gains a message: `scripts/i18n update`, translate what
`scripts/i18n check` lists, and these tests pass again.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from kuota.web import i18n
from kuota.web.i18n import Translator

POT = i18n.CATALOG_DIR / "messages.pot"
# A %-style placeholder as `text % values` reads it: `%(name)s`, `%(num)d`, `%(x)05.2f`;
# `%%` is a literal percent sign.
PLACEHOLDER = re.compile(r"%(?:\((?P<name>\w+)\)[#0 +-]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%)")
ONE_FORM = {"id", "zh"}


def po_path(locale: str) -> Path:
    return i18n.CATALOG_DIR / locale / "LC_MESSAGES" / "messages.po"


def load(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale, abort_invalid=True)


def entries(locale: str) -> list[Message]:
    return [message for message in load(po_path(locale), locale) if message.id]


def key_of(message: Message) -> str | tuple[str, str]:
    return message.id if isinstance(message.id, str) else (message.id[0], message.id[1])


def placeholders(text: str) -> Counter[str]:
    return Counter(m.group(0) for m in PLACEHOLDER.finditer(text) if m.group("name"))


def stray_percent(text: str) -> str:
    """What is left of `text` once its placeholders and `%%` are taken out."""
    return PLACEHOLDER.sub("", text)


def test_every_message_in_use_is_translated_in_every_language() -> None:
    assert i18n.missing_translations() == []


def test_the_template_lists_exactly_the_messages_in_use() -> None:
    """messages.pot is what `scripts/i18n update` extracts with locales/babel.cfg; it
    must find what i18n.used_messages() finds, or the two extractions disagree (or the
    .pot is stale: run scripts/i18n update)."""
    in_pot = {key_of(message) for message in load(POT) if message.id}
    assert in_pot == {key for _file, key, _line in i18n.used_messages()}


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_catalog_parses_and_has_no_fuzzy_entry(locale: str) -> None:
    catalog = load(po_path(locale), locale)
    assert catalog.locale_identifier == locale
    fuzzy = [key_of(message) for message in catalog if message.id and message.fuzzy]
    assert fuzzy == []


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_plural_forms_match_the_language(locale: str) -> None:
    catalog = load(po_path(locale), locale)
    expected = 1 if locale in ONE_FORM else 2
    assert catalog.num_plurals == expected
    plurals = [message for message in catalog if message.id and message.pluralizable]
    assert plurals, "the portal has plural messages"
    for message in plurals:
        assert len(message.string) == expected, message.id
        assert all(message.string), message.id


@pytest.mark.parametrize("locale", i18n.LOCALES)
def test_translations_keep_exactly_the_placeholders(locale: str) -> None:
    for message in entries(locale):
        if message.pluralizable:
            singular, plural = message.id
            # One form stands for every count, so it is written like the plural.
            sources = [plural] if len(message.string) == 1 else [singular, plural]
            pairs = list(zip(sources, message.string, strict=True))
        else:
            pairs = [(message.id, message.string)]
        for source, text in pairs:
            assert placeholders(text) == placeholders(source), (locale, source, text)
            assert "%" not in stray_percent(text), (locale, source, text)
            names = {m.group("name") for m in PLACEHOLDER.finditer(source) if m.group("name")}
            text % dict.fromkeys(names, 1)  # formats as the Translator will


@pytest.mark.parametrize("locale", ["en"])
def test_english_translations_are_the_message_ids(locale: str) -> None:
    for message in entries(locale):
        expected = tuple(message.id) if message.pluralizable else message.id
        actual = tuple(message.string) if message.pluralizable else message.string
        assert actual == expected


@pytest.mark.parametrize("locale", ["id", "zh"])
def test_a_known_message_is_translated(locale: str) -> None:
    english = Translator("en")
    translator = Translator(locale)
    for message in ("Sign in", "Main balance", "Renew", "Top up"):
        assert translator.gettext(message) != english.gettext(message) == message
    assert Translator("id").gettext("Sign in") == "Masuk"
    assert Translator("zh").gettext("Sign in") == "登录"


def test_values_fill_a_translated_message() -> None:
    assert Translator("id").gettext("Renew %(msisdn)s", msisdn="0811") == "Perpanjang 0811"
    assert Translator("zh").gettext("Top up %(msisdn)s", msisdn="0811") == "为 0811 充值"


def test_english_picks_the_form_for_the_count() -> None:
    english = Translator("en")
    assert english.ngettext("%(num)d day left", "%(num)d days left", 1) == "1 day left"
    assert english.ngettext("%(num)d day left", "%(num)d days left", 2) == "2 days left"
    assert english.ngettext("valid %(num)d day", "valid %(num)d days", 30) == "valid 30 days"


@pytest.mark.parametrize(
    ("locale", "one", "two"),
    [("id", "Sisa 1 hari", "Sisa 2 hari"), ("zh", "剩余 1 天", "剩余 2 天")],
)
def test_one_form_languages_use_it_for_every_count(locale: str, one: str, two: str) -> None:
    translator = Translator(locale)
    assert translator.ngettext("%(num)d day left", "%(num)d days left", 1) == one
    assert translator.ngettext("%(num)d day left", "%(num)d days left", 2) == two


@pytest.mark.parametrize(
    ("asked", "picked"),
    [("id", "id"), ("EN", "en"), ("en_US", "en"), ("zh-CN", "zh"), (" zh ", "zh")],
)
def test_pick_reads_a_supported_language(asked: str, picked: str) -> None:
    assert i18n.pick(asked) == picked


@pytest.mark.parametrize("asked", [None, "", "fr", "ms-MY", "xx"])
def test_an_unknown_language_falls_back_to_the_default(asked: str | None) -> None:
    assert i18n.pick(asked) is None
    locale = i18n.pick(asked) or i18n.DEFAULT_LOCALE
    assert locale == "id"
    assert Translator(locale).gettext("Sign in") == "Masuk"
