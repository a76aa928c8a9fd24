"""The locator on the demo's stores and kiosk, on SQLite and PostgreSQL: nearest first,
by city, only what the operator has authorised, and bad input refused by name."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert, select

from kuota import demo
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.errors import InvalidInput
from kuota.kiosks.models import Kiosk
from kuota.retail import locator
from kuota.retail.models import Retailer, Store

MONAS = (-6.1754, 106.8272)
ZONE = "Asia/Jakarta"


@pytest.fixture
def outlets_db(db: Database, ctx: Context) -> Database:
    """The demo data, plus a withdrawn store and kiosk right next to Monas and a store
    nobody has put on the map yet."""
    now = ctx.clock.now()
    with db.unit_of_work() as session:
        demo.load(session, ctx)
        melati = session.execute(select(Retailer.id).where(Retailer.code == "RTL")).scalar_one()
        common = {"retailer_id": melati, "created_at": now, "address": ""}
        session.execute(
            insert(Store).values(
                code="RTL-0900",
                name="Toko Ditutup",
                city="Jakarta",
                latitude=MONAS[0],
                longitude=MONAS[1],
                is_authorised=False,
                **common,
            )
        )
        session.execute(
            insert(Store).values(
                code="RTL-0003",
                name="Toko Melati Baru",
                city="Jakarta",
                latitude=None,
                longitude=None,
                **common,
            )
        )
        session.execute(
            insert(Kiosk).values(
                code="KSK-0900",
                location="Monas",
                city="Jakarta",
                latitude=MONAS[0],
                longitude=MONAS[1],
                api_key_hash="0" * 64,
                is_authorised=False,
                created_at=now,
            )
        )
    return db


def find(db: Database, ctx: Context, at: datetime | None = None, **filters: Any) -> list[Any]:
    with db.unit_of_work(write=False) as session:
        return locator.find_outlets(session, now=at or ctx.clock.now(), zone_name=ZONE, **filters)


def codes(found: list[dict[str, Any]]) -> list[str]:
    return [outlet["code"] for outlet in found]


def test_nearest_first_from_a_jakarta_position(outlets_db: Database, ctx: Context) -> None:
    found = find(outlets_db, ctx, latitude=MONAS[0], longitude=MONAS[1])
    order = codes(found)
    assert set(order[:2]) == {"KSK-0001", "RTL-0001"}
    assert order == ["KSK-0001", "RTL-0001", "RTL-0002", "RTL-0101", "RTL-0003"]
    distances = [outlet["distance_km"] for outlet in found]
    assert distances[:4] == sorted(distances[:4])
    assert distances[3] == pytest.approx(119.4, abs=0.1)  # Toko Anggrek, Bandung
    assert distances[4] is None  # no coordinates: listed, but last


def test_without_a_position_by_city_then_name(outlets_db: Database, ctx: Context) -> None:
    found = find(outlets_db, ctx)
    # Bandung, then Jakarta: Stasiun Gambir, Toko Melati, Toko Melati Baru, … Kemang.
    assert codes(found) == ["RTL-0101", "KSK-0001", "RTL-0001", "RTL-0003", "RTL-0002"]
    assert all(outlet["distance_km"] is None for outlet in found)


def test_city_filter_is_exact_in_any_case(outlets_db: Database, ctx: Context) -> None:
    assert codes(find(outlets_db, ctx, city=" bandung ")) == ["RTL-0101"]
    jakarta = find(outlets_db, ctx, city="JAKARTA", latitude=MONAS[0], longitude=MONAS[1])
    assert codes(jakarta) == ["KSK-0001", "RTL-0001", "RTL-0002", "RTL-0003"]
    assert find(outlets_db, ctx, city="Band") == []


def test_code_filter_and_limit(outlets_db: Database, ctx: Context) -> None:
    assert codes(find(outlets_db, ctx, code="rtl-0002")) == ["RTL-0002"]
    assert codes(find(outlets_db, ctx, latitude=MONAS[0], longitude=MONAS[1], limit=2)) == [
        "KSK-0001",
        "RTL-0001",
    ]


def test_what_each_outlet_says(outlets_db: Database, ctx: Context) -> None:
    found = {o["code"]: o for o in find(outlets_db, ctx, latitude=MONAS[0], longitude=MONAS[1])}
    store, kiosk = found["RTL-0002"], found["KSK-0001"]
    assert store == {
        "kind": "store",
        "code": "RTL-0002",
        "name": "Toko Melati Kemang",
        "retailer": "Toko Melati",
        "city": "Jakarta",
        "address": "Jl. Kemang Raya No. 12",
        "latitude": pytest.approx(-6.2615),
        "longitude": pytest.approx(106.8132),
        "distance_km": 9.7,
        "hours": {"days": [1, 2, 3, 4, 5, 6, 7], "opens_at": "09:00", "closes_at": "22:00"},
        "always_open": False,
        "open_now": True,  # the test clock is 10:00 in Jakarta
    }
    assert kiosk["kind"] == "kiosk" and kiosk["retailer"] is None
    assert kiosk["always_open"] is True and kiosk["open_now"] is True
    assert kiosk["name"] == "Stasiun Gambir, Jakarta"


def test_open_now_on_the_operators_clock(outlets_db: Database, ctx: Context) -> None:
    # 14:30 UTC is 21:30 in Jakarta: Toko Melati has closed, Kemang is open till 22:00.
    evening = ctx.clock.now().replace(hour=14, minute=30)
    found = {o["code"]: o["open_now"] for o in find(outlets_db, ctx, at=evening)}
    assert found["RTL-0001"] is False
    assert found["RTL-0002"] is True
    assert found["KSK-0001"] is True
    # 01:00 UTC the next day is 08:00 in Jakarta: both stores have just opened.
    morning = evening + timedelta(hours=10, minutes=30)
    found = {o["code"]: o["open_now"] for o in find(outlets_db, ctx, at=morning)}
    assert found["RTL-0001"] is True and found["RTL-0002"] is False


def test_withdrawn_outlets_are_never_listed(outlets_db: Database, ctx: Context) -> None:
    listings = [
        find(outlets_db, ctx),
        find(outlets_db, ctx, latitude=MONAS[0], longitude=MONAS[1], limit=100),
        find(outlets_db, ctx, city="Jakarta"),
        find(outlets_db, ctx, code="RTL-0900"),
        find(outlets_db, ctx, code="KSK-0900"),
    ]
    for found in listings:
        assert not {"RTL-0900", "KSK-0900"} & set(codes(found))
    with outlets_db.unit_of_work(write=False) as session:
        assert locator.outlet_by_code(session, "RTL-0900") is None
        assert locator.outlet_by_code(session, "KSK-0900") is None
        assert locator.outlet_by_code(session, "") is None
        store = locator.outlet_by_code(session, " rtl-0101 ")
        kiosk = locator.outlet_by_code(session, "KSK-0001")
    assert store is not None and store["retailer"] == "Toko Anggrek"
    assert kiosk is not None and kiosk["kind"] == "kiosk" and kiosk["city"] == "Jakarta"


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"latitude": 90.5, "longitude": 106.8}, "latitude"),
        ({"latitude": -91.0, "longitude": 106.8}, "latitude"),
        ({"latitude": float("nan"), "longitude": 106.8}, "latitude"),
        ({"latitude": -6.2, "longitude": 180.5}, "longitude"),
        ({"latitude": -6.2}, "longitude"),
        ({"longitude": 106.8}, "latitude"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
    ],
)
def test_bad_input_names_the_field(
    outlets_db: Database, ctx: Context, filters: dict[str, Any], field: str
) -> None:
    found = None
    with pytest.raises(InvalidInput) as refused:
        found = find(outlets_db, ctx, **filters)
    assert refused.value.extra["field"] == field
    assert refused.value.status == 422
    assert found is None
