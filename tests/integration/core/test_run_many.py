"""`run_many` and `fetch_rows`: the driver's own executemany and cursor for prebuilt
statements, values through their column types as `run` would send and read them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import bindparam, insert, select, update

from kuota.cards.models import Card
from kuota.core.context import Context
from kuota.core.db import Database, fetch_rows, run, run_many, table_of
from kuota.usage.models import CreditControlAnswer, UsageRecord, UsageSession
from kuota.usage.network import _SESSIONS, _STALE

from factories import make_card, make_subscriber

_ANSWER = insert(table_of(CreditControlAnswer))
_REWRITE = (
    update(CreditControlAnswer)
    .where(CreditControlAnswer.session_id == bindparam("w_id"))
    .values(answer=bindparam("text"))
)


def test_rows_keep_their_values_and_instants_come_back_in_utc(db: Database) -> None:
    jakarta = timezone(timedelta(hours=7))
    at = datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=jakarta)
    with db.unit_of_work() as s:
        run_many(
            s,
            _ANSWER,
            [
                {"session_id": f"s{i}", "request_number": i, "answer": "{}", "created_at": at}
                for i in range(3)
            ],
        )
        run_many(s, _REWRITE, [{"w_id": "s1", "text": '{"again": true}'}])
        run_many(s, _REWRITE, [])  # nothing to write is not an error
    with db.unit_of_work(write=False) as s:
        rows = s.execute(
            select(CreditControlAnswer).order_by(CreditControlAnswer.session_id)
        ).scalars()
        got = [(r.session_id, r.request_number, r.answer, r.created_at) for r in rows]
    utc = at.astimezone(UTC)
    assert got == [
        ("s0", 0, "{}", utc),
        ("s1", 1, '{"again": true}', utc),
        ("s2", 2, "{}", utc),
    ]


def test_one_statement_given_other_columns_is_compiled_for_them(db: Database, ctx: Context) -> None:
    """The same INSERT, later given rows without its optional columns, leaves them NULL
    instead of reusing the first call's column list."""
    at = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)
    statement = insert(table_of(UsageRecord))
    with db.unit_of_work() as s:
        msisdn = make_card(s, ctx, make_subscriber(s, ctx))
        card_id = s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one()
        common = {"card_id": card_id, "source": "t", "recorded_at": at, "uncharged_bytes": 0}
        run_many(s, statement, [{**common, "bytes": 1, "session_id": "s", "package_id": None}])
        run_many(s, statement, [{**common, "bytes": 2}])
    with db.unit_of_work(write=False) as s:
        rows = s.execute(
            select(UsageRecord.bytes, UsageRecord.session_id).order_by(UsageRecord.id)
        ).all()
    assert [tuple(r) for r in rows] == [(1, "s"), (2, None)]


def test_instants_are_stored_as_run_stores_them(db: Database) -> None:
    """The same instant written by `run_many` and by a plain execute is the same stored
    value, so the database compares and orders them alike (SQLite keeps text)."""
    for microsecond in (123456, 0):
        at = datetime(2026, 11, 25, 10, 0, 0, microsecond, tzinfo=UTC)
        many, single = f"many-{microsecond}", f"single-{microsecond}"
        row = {"request_number": 1, "answer": "{}", "created_at": at}
        with db.unit_of_work() as s:
            run_many(s, _ANSWER, [{"session_id": many, **row}])
            s.execute(_ANSWER, {"session_id": single, **row})
        with db.unit_of_work(write=False) as s:
            stored = dict(
                s.connection()
                .exec_driver_sql(
                    "SELECT session_id, CAST(created_at AS TEXT) FROM credit_control_answers"
                    f" WHERE session_id IN ('{many}', '{single}')"
                )
                .all()
            )
            same_instant = s.execute(
                select(CreditControlAnswer.session_id).where(
                    CreditControlAnswer.session_id.in_([many, single]),
                    CreditControlAnswer.created_at == at,
                )
            ).scalars()
        assert stored[many] == stored[single]
        assert sorted(same_instant) == sorted([many, single])


def test_fetch_rows_reads_what_run_reads(db: Database, ctx: Context) -> None:
    """`fetch_rows` gives the rows `run` gives, as tuples: values the statement carries
    itself (a literal status, a 0), one bound list, instants in UTC, on both drivers."""
    at = datetime(2026, 11, 25, 3, 0, 0, 500, tzinfo=UTC)
    with db.unit_of_work() as s:
        msisdn = make_card(s, ctx, make_subscriber(s, ctx))
        card_id = s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one()
        for key, expires in (("gy:a", at), ("gy:b", None), ("gy:c", at + timedelta(hours=1))):
            s.add(
                UsageSession(
                    id=key,
                    card_id=card_id,
                    source="gy",
                    started_at=at,
                    updated_at=at,
                    reservation_expires_at=expires,
                )
            )
    cases = [
        (_SESSIONS, {"keys": ["gy:a", "gy:b", "gy:nobody"]}),
        (_SESSIONS, {"keys": []}),
        (_STALE, {"now": at + timedelta(minutes=1), "limit": 10}),
    ]
    with db.unit_of_work(write=False) as s:
        for statement, params in cases:
            fetched = fetch_rows(s, statement, params)
            expected = [tuple(row) for row in run(s, statement, params)]
            assert sorted(fetched) == sorted(expected), statement
    with db.unit_of_work(write=False) as s:
        [row] = fetch_rows(s, _SESSIONS, {"keys": ["gy:a"]})
    assert row[0] == "gy:a" and row[8] == at and row[8].tzinfo is UTC
    assert row[10] == at


def test_fetch_rows_refuses_an_expanding_list(db: Database) -> None:
    expanding = select(Card.id).where(Card.msisdn.in_(bindparam("numbers", expanding=True)))
    with db.unit_of_work(write=False) as s, pytest.raises(ValueError, match="in_list"):
        fetch_rows(s, expanding, {"numbers": ["+62811"]})
