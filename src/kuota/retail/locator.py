"""Where someone can renew in person: the operator's authorised stores and kiosks, nearest
first, with their opening hours and whether they are open now.

The public locator and the "is this outlet authorised?" check read the same rows through
the same query, so a store the operator withdraws disappears from both at once. Only
authorised outlets are ever listed; the check answers "not authorised" for anything else.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kuota.core.clock import as_utc
from kuota.core.errors import InvalidInput
from kuota.core.localtime import zone
from kuota.kiosks.models import Kiosk
from kuota.retail.models import Retailer, Store

EARTH_RADIUS_KM = 6371.0088  # the mean radius (IUGG)
MAX_LIMIT = 100
ALL_DAYS = "1234567"
# Kiosks stand in stations and malls and sell around the clock.
KIOSK_HOURS = {"days": [1, 2, 3, 4, 5, 6, 7], "opens_at": "00:00", "closes_at": "24:00"}


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance by the haversine formula on a sphere of the Earth's mean
    radius: within 0.5% of the true distance, ample for "which outlet is nearest"."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    h = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _minutes(clock_time: str) -> int:
    """Minutes since midnight of "HH:MM"; "24:00" is the midnight that ends the day."""
    hours, sep, minutes = clock_time.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(f"opening time {clock_time!r} is not HH:MM")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise ValueError(f"opening time {clock_time!r} is not HH:MM")
    return value


def is_open(open_days: str, opens_at: str, closes_at: str, now_local: datetime) -> bool:
    """Open from `opens_at` (included) to `closes_at` (excluded) on each ISO weekday in
    `open_days`, times on the operator's wall clock. A closing time at or before the
    opening time runs past midnight: "20:00"-"02:00" on Friday is open until 02:00 on
    Saturday, whatever Saturday's own hours."""
    opens, closes = _minutes(opens_at), _minutes(closes_at)
    minute = now_local.hour * 60 + now_local.minute
    today = str(now_local.isoweekday())
    yesterday = str(now_local.isoweekday() - 1 or 7)
    if opens < closes:
        return today in open_days and opens <= minute < closes
    # Past midnight: the evening of an open day, or the small hours after one.
    return (today in open_days and minute >= opens) or (yesterday in open_days and minute < closes)


def _authorised_outlets(
    session: Session, *, city: str | None = None, code: str | None = None
) -> list[dict[str, Any]]:
    """Every authorised store and kiosk matching the filters: what each is and where."""
    stores = (
        select(
            Store.code,
            Store.name,
            Retailer.name.label("retailer"),
            Store.city,
            Store.address,
            Store.latitude,
            Store.longitude,
            Store.open_days,
            Store.opens_at,
            Store.closes_at,
        )
        .join(Retailer, Retailer.id == Store.retailer_id)
        .where(Store.is_authorised.is_(True))
    )
    kiosks = select(Kiosk.code, Kiosk.location, Kiosk.city, Kiosk.latitude, Kiosk.longitude).where(
        Kiosk.is_authorised.is_(True)
    )
    if code is not None:
        stores, kiosks = stores.where(Store.code == code), kiosks.where(Kiosk.code == code)
    if city is not None:
        # lower() on both sides: SQLite folds ASCII only, which Indonesian city names are.
        stores = stores.where(func.lower(Store.city) == city.lower())
        kiosks = kiosks.where(func.lower(Kiosk.city) == city.lower())
    found = [
        {
            "kind": "store",
            "code": row.code,
            "name": row.name,
            "retailer": row.retailer,
            "city": row.city,
            "address": row.address,
            "latitude": row.latitude,
            "longitude": row.longitude,
            "hours": {
                "days": [int(day) for day in ALL_DAYS if day in row.open_days],
                "opens_at": row.opens_at,
                "closes_at": row.closes_at,
            },
            "always_open": False,
        }
        for row in session.execute(stores)
    ]
    found += [
        {
            "kind": "kiosk",
            "code": row.code,
            "name": row.location,
            "retailer": None,
            "city": row.city,
            "address": row.location,
            "latitude": row.latitude,
            "longitude": row.longitude,
            "hours": dict(KIOSK_HOURS),
            "always_open": True,
        }
        for row in session.execute(kiosks)
    ]
    return found


def outlet_by_code(session: Session, code: str) -> dict[str, Any] | None:
    """The authorised store or kiosk with this code (from its sticker), or None: an
    unknown code and a withdrawn outlet get the same answer."""
    wanted = code.strip().upper()
    if not wanted:
        return None
    found = _authorised_outlets(session, code=wanted)
    # Store codes win over kiosk codes, should the operator ever reuse one.
    found.sort(key=lambda outlet: outlet["kind"] != "store")
    return found[0] if found else None


def _check_position(latitude: float | None, longitude: float | None) -> None:
    if latitude is None and longitude is not None:
        raise InvalidInput("give latitude with longitude, or neither", field="latitude")
    if longitude is None and latitude is not None:
        raise InvalidInput("give longitude with latitude, or neither", field="longitude")
    # Written so that NaN fails too.
    if latitude is not None and not -90 <= latitude <= 90:
        raise InvalidInput("latitude is between -90 and 90 degrees", field="latitude")
    if longitude is not None and not -180 <= longitude <= 180:
        raise InvalidInput("longitude is between -180 and 180 degrees", field="longitude")


def _open_now(outlet: dict[str, Any], now_local: datetime) -> bool | None:
    if outlet["always_open"]:
        return True
    hours = outlet["hours"]
    days = "".join(str(day) for day in hours["days"])
    try:
        return is_open(days, hours["opens_at"], hours["closes_at"], now_local)
    except ValueError:
        return None  # hours the operator typed wrongly: "unknown", not a broken page


def find_outlets(
    session: Session,
    *,
    latitude: float | None = None,
    longitude: float | None = None,
    city: str | None = None,
    code: str | None = None,
    limit: int = 20,
    now: datetime,
    zone_name: str,
) -> list[dict[str, Any]]:
    """Authorised stores and kiosks, nearest first from a position (those without
    coordinates last), else by city then name; `open_now` on the operator's wall clock
    (`zone_name`) at `now`, the business clock."""
    _check_position(latitude, longitude)
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit is between 1 and {MAX_LIMIT}", field="limit")
    city = city.strip() if city and city.strip() else None
    code = code.strip().upper() if code and code.strip() else None
    now_local = as_utc(now).astimezone(zone(zone_name))
    placed: list[tuple[float | None, dict[str, Any]]] = []
    for outlet in _authorised_outlets(session, city=city, code=code):
        exact: float | None = None
        if latitude is not None and longitude is not None:
            here = outlet["latitude"], outlet["longitude"]
            if here[0] is not None and here[1] is not None:
                exact = distance_km(latitude, longitude, here[0], here[1])
        outlet["distance_km"] = None if exact is None else round(exact, 1)
        outlet["open_now"] = _open_now(outlet, now_local)
        placed.append((exact, outlet))

    def by_name(outlet: dict[str, Any]) -> tuple[str, str, str]:
        return outlet["city"].casefold(), outlet["name"].casefold(), outlet["code"]

    if latitude is not None:
        placed.sort(key=lambda p: (p[0] is None, p[0] or 0.0, by_name(p[1])))
    else:
        placed.sort(key=lambda p: by_name(p[1]))
    return [outlet for _, outlet in placed[:limit]]
