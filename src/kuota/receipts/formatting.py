"""Amounts and times as a receipt prints them, per language; the web portal uses these too."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.dates import format_datetime
from babel.numbers import format_decimal

from kuota.core.localtime import zone
from kuota.core.money import CURRENCY_EXPONENTS, Money

DEFAULT_LOCALE = "id"

# Day first, as Indonesian and English receipts write it; Chinese puts the year first.
_TIME_PATTERNS = {"zh": "yyyy-MM-dd HH:mm"}
_DEFAULT_TIME_PATTERN = "dd-MM-yyyy HH:mm"


@lru_cache(maxsize=16)
def _babel_locale(locale: str) -> Locale:
    try:
        return Locale.parse(locale.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(DEFAULT_LOCALE)


def format_rupiah(money: Money, locale: str) -> str:
    """`Rp 50.000` in Indonesian, `Rp 50,000` in English and Chinese. Whole rupiah unless
    the amount has sen; other currencies print their code instead of `Rp`."""
    exponent = CURRENCY_EXPONENTS[money.currency]
    value = Decimal(abs(money.amount)).scaleb(-exponent)
    pattern = "#,##0" if value == value.to_integral_value() else "#,##0." + "0" * exponent
    number = format_decimal(value, format=pattern, locale=_babel_locale(locale))
    symbol = "Rp" if money.currency == "IDR" else money.currency
    sign = "-" if money.amount < 0 else ""
    return f"{sign}{symbol} {number}"


def format_local_time(instant: datetime, zone_name: str, locale: str) -> str:
    """`25-11-2026 10:00 WIB`: the instant in the operator's zone, with the zone's own
    abbreviation (WIB, WITA, WIT) whatever the language."""
    if instant.tzinfo is None:
        raise ValueError("format_local_time needs an aware datetime (UTC)")
    tz = zone(zone_name)
    local = instant.astimezone(tz)
    pattern = _TIME_PATTERNS.get(locale, _DEFAULT_TIME_PATTERN)
    shown = format_datetime(local, pattern, tzinfo=tz, locale=_babel_locale(locale))
    return f"{shown} {local.tzname()}"
