from datetime import UTC, datetime, timedelta, timezone

import pytest

from kuota.core.money import Money
from kuota.receipts.formatting import format_local_time, format_rupiah


@pytest.mark.parametrize(
    ("amount", "locale", "text"),
    [
        (5_000_000, "id", "Rp 50.000"),
        (5_000_000, "en", "Rp 50,000"),
        (5_000_000, "zh", "Rp 50,000"),
        (123_456_789_00, "id", "Rp 123.456.789"),
        (0, "id", "Rp 0"),
        (-150_000, "id", "-Rp 1.500"),
        (-150_000, "en", "-Rp 1,500"),
        (100_050, "id", "Rp 1.000,50"),  # sen are shown when there are any
        (100_050, "en", "Rp 1,000.50"),
        (5_000_000, "xx", "Rp 50.000"),  # unknown language: Indonesian
        (5_000_000, "en-US", "Rp 50,000"),
    ],
)
def test_rupiah_amounts(amount: int, locale: str, text: str) -> None:
    assert format_rupiah(Money(amount, "IDR"), locale) == text


def test_other_currencies_print_their_code() -> None:
    assert format_rupiah(Money(123_456, "USD"), "en") == "USD 1,234.56"
    assert format_rupiah(Money(5_000, "JPY"), "en") == "JPY 5,000"


def test_times_show_in_the_operator_zone_with_its_abbreviation() -> None:
    instant = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    assert format_local_time(instant, "Asia/Jakarta", "id") == "25-11-2026 10:00 WIB"
    assert format_local_time(instant, "Asia/Jakarta", "en") == "25-11-2026 10:00 WIB"
    assert format_local_time(instant, "Asia/Jakarta", "zh") == "2026-11-25 10:00 WIB"
    assert format_local_time(instant, "Asia/Makassar", "id") == "25-11-2026 11:00 WITA"
    assert format_local_time(instant, "Asia/Jayapura", "id") == "25-11-2026 12:00 WIT"


def test_the_local_date_is_the_one_after_utc_midnight_in_jakarta() -> None:
    instant = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)
    assert format_local_time(instant, "Asia/Jakarta", "id") == "01-01-2027 00:30 WIB"


def test_any_aware_instant_is_converted() -> None:
    instant = datetime(2026, 11, 25, 12, 0, tzinfo=timezone(timedelta(hours=9)))
    assert format_local_time(instant, "Asia/Jakarta", "en") == "25-11-2026 10:00 WIB"


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        format_local_time(datetime(2026, 11, 25, 3, 0), "Asia/Jakarta", "id")
