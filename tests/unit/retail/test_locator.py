"""The locator's arithmetic: distances on the globe and opening hours on the wall clock."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kuota.retail.locator import distance_km, is_open

MONAS = (-6.1754, 106.8272)
BANDUNG = (-6.9175, 107.6191)
# 2026-11-27 is a Friday (ISO weekday 5); times are the operator's wall clock.
FRIDAY = datetime(2026, 11, 27)


def at(day_offset: int, hhmm: str) -> datetime:
    hours, minutes = hhmm.split(":")
    return FRIDAY + timedelta(days=day_offset, hours=int(hours), minutes=int(minutes))


def test_jakarta_to_bandung_is_about_120_km() -> None:
    # The WGS84 geodesic is 120.02 km; a sphere of the mean radius is within 0.5% of it.
    assert 119.5 < distance_km(*MONAS, *BANDUNG) < 120.5


def test_distance_is_symmetric_and_zero_in_place() -> None:
    assert distance_km(*MONAS, *BANDUNG) == pytest.approx(distance_km(*BANDUNG, *MONAS))
    assert distance_km(*MONAS, *MONAS) == 0.0
    # Half the equator, the longest way there is: π times the radius.
    assert distance_km(0, 0, 0, 180) == pytest.approx(3.14159265 * 6371.0088)


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (at(0, "07:59"), False),
        (at(0, "08:00"), True),  # opening time included
        (at(0, "20:59"), True),
        (at(0, "21:00"), False),  # closing time excluded
    ],
)
def test_ordinary_day(when: datetime, expected: bool) -> None:
    assert is_open("1234567", "08:00", "21:00", when) is expected


def test_open_until_midnight_closes_at_midnight() -> None:
    assert is_open("1234567", "08:00", "24:00", at(0, "23:59")) is True
    assert is_open("1234567", "08:00", "24:00", at(1, "00:00")) is False


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (at(-1, "01:00"), False),  # the small hours of Friday follow a closed Thursday
        (at(0, "19:59"), False),
        (at(0, "20:00"), True),
        (at(0, "23:59"), True),
        (at(1, "00:00"), True),  # Saturday, still Friday night
        (at(1, "01:59"), True),
        (at(1, "02:00"), False),
        (at(1, "20:00"), False),  # Saturday itself is a closed day
    ],
)
def test_friday_night_runs_past_midnight(when: datetime, expected: bool) -> None:
    assert is_open("5", "20:00", "02:00", when) is expected


def test_sunday_night_carries_into_monday() -> None:
    # Sunday is 7; the day before Monday wraps round the week.
    assert is_open("7", "22:00", "03:00", at(3, "02:30")) is True
    assert is_open("6", "22:00", "03:00", at(3, "02:30")) is False


def test_closed_days() -> None:
    weekdays = "12345"
    assert is_open(weekdays, "08:00", "21:00", at(0, "10:00")) is True  # Friday
    assert is_open(weekdays, "08:00", "21:00", at(1, "10:00")) is False  # Saturday
    assert is_open(weekdays, "08:00", "21:00", at(2, "10:00")) is False  # Sunday
    assert is_open("", "08:00", "21:00", at(0, "10:00")) is False


@pytest.mark.parametrize("bad", ["8", "8:0", "25:00", "24:01", "08:60", "ab:cd", ""])
def test_hours_that_are_not_hh_mm_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        is_open("1234567", bad, "21:00", at(0, "10:00"))
