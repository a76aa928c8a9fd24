"""The quota book: charging and reserving in memory, written back once, and the
database's own check of every package's bounds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from kuota.cards.models import Card
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.usage import charging
from kuota.usage import service as usage
from kuota.usage.models import Package, QuotaReservation, UsageRecord, UsageSession

from factories import make_card, make_subscriber, publish_demo_plans

MB = 10**6


def _card_with(db: Database, ctx: Context, *packages: tuple[int, int]) -> int:
    """A card with packages of (megabytes, days)."""
    now = ctx.clock.now()
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        msisdn = make_card(s, ctx, make_subscriber(s, ctx), balance=0)
        card_id = s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one()
        for index, (megabytes, days) in enumerate(packages):
            usage.add_purchase(
                s,
                card_id=card_id,
                plan_code=f"PLAN-{index}",
                plan_version_id=1,
                data_bytes=megabytes * MB,
                validity_days=days,
                now=now,
            )
    return card_id


def _open_sessions(db: Database, ctx: Context, card_id: int, *keys: str) -> None:
    with db.unit_of_work() as s:
        for key in keys:
            s.add(
                UsageSession(
                    id=key,
                    card_id=card_id,
                    source="gy",
                    started_at=ctx.clock.now(),
                    updated_at=ctx.clock.now(),
                )
            )


def _packages(db: Database, card_id: int) -> list[tuple[int, int, int]]:
    with db.unit_of_work(write=False) as s:
        return [
            (p.quota_total_bytes, p.quota_used_bytes, p.quota_reserved_bytes)
            for p in s.execute(
                select(Package).where(Package.card_id == card_id).order_by(Package.expires_at)
            ).scalars()
        ]


def test_use_draws_from_the_earliest_expiry_first_then_overflows_as_uncharged(
    db: Database, ctx: Context
) -> None:
    card_id = _card_with(db, ctx, (100, 30), (50, 7))
    with db.unit_of_work() as s:
        book = charging.QuotaBook.load(s, [card_id], ctx.clock.now())
        first = book.charge(card_id, 60 * MB, source="test")
        second = book.charge(card_id, 200 * MB, source="test")
        book.save(s)
    assert (first.charged, first.uncharged, first.available_after) == (60 * MB, 0, 90 * MB)
    assert (second.charged, second.uncharged, second.available_after) == (90 * MB, 110 * MB, 0)
    assert _packages(db, card_id) == [(50 * MB, 50 * MB, 0), (100 * MB, 100 * MB, 0)]
    with db.unit_of_work(write=False) as s:
        records = s.execute(
            select(UsageRecord.package_id.is_(None), UsageRecord.bytes, UsageRecord.uncharged_bytes)
            .where(UsageRecord.card_id == card_id)
            .order_by(UsageRecord.id)
        ).all()
    assert [tuple(r) for r in records] == [
        (False, 50 * MB, 0),
        (False, 10 * MB, 0),
        (False, 90 * MB, 0),
        (True, 0, 110 * MB),
    ]


def test_reserved_quota_is_drawn_last_and_a_release_gives_it_back(
    db: Database, ctx: Context
) -> None:
    card_id = _card_with(db, ctx, (100, 7))
    _open_sessions(db, ctx, card_id, "gy:a", "gy:b")
    now = ctx.clock.now()
    with db.unit_of_work() as s:
        book = charging.QuotaBook.load(s, [card_id], now, session_keys=["gy:a", "gy:b"])
        assert book.reserve(card_id, "gy:a", 70 * MB) == 70 * MB
        assert book.reserve(card_id, "gy:b", 70 * MB) == 30 * MB  # never more than is left
        assert book.quota(card_id).available == 0
        book.save(s)
    assert _packages(db, card_id) == [(100 * MB, 0, 100 * MB)]
    with db.unit_of_work() as s:
        book = charging.QuotaBook.load(s, [card_id], now, session_keys=["gy:b"])
        assert book.release("gy:b") == 30 * MB
        used = book.charge(card_id, 50 * MB, source="test")  # 30 free, then 20 of a's
        book.save(s)
        held = dict(s.execute(select(QuotaReservation.session_id, QuotaReservation.bytes)).all())
    assert (used.charged, used.available_after) == (50 * MB, -20 * MB)
    assert held == {"gy:a": 70 * MB}
    assert _packages(db, card_id) == [(100 * MB, 50 * MB, 70 * MB)]


def test_a_reservation_on_a_package_that_expired_since_is_still_given_back(
    db: Database, ctx: Context
) -> None:
    card_id = _card_with(db, ctx, (100, 1))
    _open_sessions(db, ctx, card_id, "gy:a")
    now = ctx.clock.now()
    with db.unit_of_work() as s:
        book = charging.QuotaBook.load(s, [card_id], now, session_keys=["gy:a"])
        book.reserve(card_id, "gy:a", 40 * MB)
        book.save(s)
    later = now + timedelta(days=2)
    with db.unit_of_work() as s:
        book = charging.QuotaBook.load(s, [card_id], later, session_keys=["gy:a"])
        assert book.quota(card_id).available == 0  # nothing active any more
        assert book.release("gy:a") == 40 * MB
        book.save(s)
    assert _packages(db, card_id) == [(100 * MB, 0, 0)]


def test_a_session_whose_reservations_were_not_loaded_cannot_be_changed(
    db: Database, ctx: Context
) -> None:
    card_id = _card_with(db, ctx, (100, 7))
    with db.unit_of_work() as s:
        book = charging.QuotaBook.load(s, [card_id], ctx.clock.now())
        with pytest.raises(RuntimeError, match="not loaded"):
            book.reserve(card_id, "gy:elsewhere", MB)


@pytest.mark.parametrize(
    "change",
    [
        {"quota_used_bytes": Package.quota_total_bytes + 1},
        {"quota_used_bytes": -1},
        {"quota_reserved_bytes": -1},
    ],
    ids=["used-above-total", "used-negative", "reserved-negative"],
)
def test_the_database_refuses_a_package_out_of_bounds(
    db: Database, ctx: Context, change: dict[str, object]
) -> None:
    card_id = _card_with(db, ctx, (100, 7))
    with pytest.raises(IntegrityError, match="quota_bounds"), db.unit_of_work() as s:
        s.execute(update(Package).where(Package.card_id == card_id).values(**change))
    assert _packages(db, card_id) == [(100 * MB, 0, 0)]


def _holds(db: Database, key: str) -> dict[int, int]:
    with db.unit_of_work(write=False) as s:
        rows = s.execute(
            select(QuotaReservation.package_id, QuotaReservation.bytes).where(
                QuotaReservation.session_id == key
            )
        ).all()
    return {package_id: amount for package_id, amount in rows}


def test_saved_reservations_are_what_the_book_holds_through_every_kind_of_change(
    db: Database, ctx: Context
) -> None:
    """Only changed reservations are written: a new one inserted, a changed one updated,
    one given up deleted, an unchanged one left; the rows always match the book."""
    card_id = _card_with(db, ctx, (10, 7), (100, 30))
    first, second = (p for p, _ in _package_ids(db, card_id))
    _open_sessions(db, ctx, card_id, "gy:a")

    def step(reserve: int) -> dict[int, int]:
        with db.unit_of_work() as s:
            book = charging.QuotaBook.load(s, [card_id], ctx.clock.now(), session_keys=["gy:a"])
            book.release("gy:a")
            book.reserve(card_id, "gy:a", reserve)
            book.save(s)
        return _holds(db, "gy:a")

    assert step(15 * MB) == {first: 10 * MB, second: 5 * MB}  # two inserted
    assert step(15 * MB) == {first: 10 * MB, second: 5 * MB}  # unchanged
    assert step(12 * MB) == {first: 10 * MB, second: 2 * MB}  # one updated
    assert step(4 * MB) == {first: 4 * MB}  # one updated, one deleted
    assert step(0) == {}  # deleted
    assert step(30 * MB) == {first: 10 * MB, second: 20 * MB}  # inserted again
    assert [reserved for _, _, reserved in _packages(db, card_id)] == [10 * MB, 20 * MB]


def _package_ids(db: Database, card_id: int) -> list[tuple[int, int]]:
    with db.unit_of_work(write=False) as s:
        return [
            (p.id, p.quota_total_bytes)
            for p in s.execute(
                select(Package).where(Package.card_id == card_id).order_by(Package.expires_at)
            ).scalars()
        ]
