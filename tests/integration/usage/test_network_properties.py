"""Property: any interleaving of credit control and RADIUS accounting for several sessions
of one card never grants or charges more than the card had, charges exactly what was
reported used (up to what the card had), and leaves nothing reserved once every session
has ended."""

from __future__ import annotations

import itertools
from typing import Any, TypeVar

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from kuota.cards.models import Card
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.errors import KuotaError
from kuota.usage import network
from kuota.usage import service as usage
from kuota.usage.models import Package, QuotaReservation, UsageRecord, UsageSession

from factories import make_card, make_subscriber, publish_demo_plans

MB = 10**6
T = TypeVar("T")
GY = 3
RADIUS = 2
op = st.one_of(
    st.tuples(st.just("gy"), st.integers(0, GY - 1), st.integers(0, 100), st.integers(0, 300)),
    st.tuples(st.just("acct"), st.integers(0, RADIUS - 1), st.integers(0, 60), st.booleans()),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(op, max_size=30), quota_mb=st.integers(1, 400), radius_on=st.booleans())
def test_interleaved_sessions_never_overspend(
    db: Database, ctx: Context, ops: list[tuple[Any, ...]], quota_mb: int, radius_on: bool
) -> None:
    now = ctx.clock.now()
    with db.unit_of_work() as s:
        if s.execute(select(func.count()).select_from(Package)).scalar_one() == 0:
            publish_demo_plans(s, ctx)
        user = make_subscriber(s, ctx)
        msisdn = make_card(s, ctx, user, balance=0)
        card_id = s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one()
        usage.add_purchase(
            s,
            card_id=card_id,
            plan_code="DATA-1GB-7D",
            plan_version_id=1,
            data_bytes=quota_mb * MB,
            validity_days=7,
            now=now,
        )
    total = quota_mb * MB
    tag = msisdn[-6:]
    granted = [0] * GY  # outstanding grant per credit-control session
    number = [-1] * GY
    opened = [False] * GY
    closed = [False] * GY
    radius_total = [0] * RADIUS
    radius_seen = [0] * RADIUS
    reported = 0

    def gy(index: int, kind: str, used: int, requested: int | None) -> dict[str, Any]:
        number[index] += 1
        with db.unit_of_work() as s:
            return network.credit_control(
                s,
                ctx,
                network.CreditControlRequest(
                    session_id=f"{tag}-gy-{index}",
                    msisdn=msisdn,
                    request_type=kind,
                    request_number=number[index],
                    requested_bytes=requested,
                    used_bytes=used,
                ),
            )

    for kind, index, amount, extra in ops:
        if kind == "gy":
            if closed[index]:
                continue
            used = granted[index] * amount // 100  # the network honours its grant
            reported += used
            step = "update" if opened[index] else "initial"
            if extra > 250 and opened[index]:
                step = "terminate"
            answer = gy(index, step, used, extra * MB if extra else None)
            opened[index] = True
            closed[index] = step == "terminate"
            granted[index] = answer["granted_bytes"]
            assert answer["result_code"] in (2001, 4012)
            if kind == "gy" and answer["result_code"] == 2001 and step != "terminate":
                assert answer["granted_bytes"] > 0
        elif radius_on:
            radius_total[index] += amount * MB
            delta = max(0, radius_total[index] - radius_seen[index])
            radius_seen[index] = max(radius_seen[index], radius_total[index])
            reported += delta
            with db.unit_of_work() as s:
                network.account(
                    s,
                    msisdn=msisdn,
                    session_key=f"{tag}-r-{index}",
                    reported_total_bytes=radius_total[index],
                    stop=False,
                    nas_address="127.0.0.1",
                    now=now,
                )
            if extra:  # a retransmission of the same record
                with db.unit_of_work() as s:
                    network.account(
                        s,
                        msisdn=msisdn,
                        session_key=f"{tag}-r-{index}",
                        reported_total_bytes=radius_total[index],
                        stop=False,
                        nas_address="127.0.0.1",
                        now=now,
                    )
        with db.unit_of_work(write=False) as s:
            package = s.execute(select(Package).where(Package.card_id == card_id)).scalar_one()
            assert 0 <= package.quota_used_bytes <= total
            assert package.quota_reserved_bytes == sum(
                granted[i] for i in range(GY) if opened[i] and not closed[i]
            )
            if not radius_on:  # grants alone never promise more than the card has
                assert package.quota_used_bytes + package.quota_reserved_bytes <= total

    for index in range(GY):
        if opened[index] and not closed[index]:
            used = granted[index]
            reported += used
            gy(index, "terminate", used, None)
    with db.unit_of_work(write=False) as s:
        package = s.execute(select(Package).where(Package.card_id == card_id)).scalar_one()
        charged, uncharged = s.execute(
            select(
                func.coalesce(func.sum(UsageRecord.bytes), 0),
                func.coalesce(func.sum(UsageRecord.uncharged_bytes), 0),
            ).where(UsageRecord.card_id == card_id)
        ).one()
    assert package.quota_reserved_bytes == 0
    assert charged == package.quota_used_bytes <= total
    assert charged + uncharged == reported  # every reported byte charged or recorded
    if not radius_on:
        assert uncharged == 0  # honoured grants are always covered


def _twin_cards(db: Database, ctx: Context, quota_mb: int) -> list[tuple[str, int]]:
    """Two cards, (number, id), each with the same package of `quota_mb`."""
    cards = []
    with db.unit_of_work() as s:
        if s.execute(select(func.count()).select_from(Package)).scalar_one() == 0:
            publish_demo_plans(s, ctx)
        for _ in range(2):
            msisdn = make_card(s, ctx, make_subscriber(s, ctx), balance=0)
            card_id = s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one()
            usage.add_purchase(
                s,
                card_id=card_id,
                plan_code="DATA-1GB-7D",
                plan_version_id=1,
                data_bytes=quota_mb * MB,
                validity_days=7,
                now=ctx.clock.now(),
            )
            cards.append((msisdn, card_id))
    return cards


def _cut(items: list[T], cuts: set[int]) -> list[list[T]]:
    """The items in groups, cut before each index in `cuts`."""
    bounds = [0, *sorted(c for c in cuts if c < len(items)), len(items)]
    return [items[start:end] for start, end in itertools.pairwise(bounds)]


step = st.tuples(
    st.integers(0, 2),  # which session
    st.sampled_from(["initial", "update", "update", "terminate"]),
    st.sampled_from([1, 1, 1, 0, -1, 2]),  # request number: next, again, back, skipped one
    st.integers(0, 150),  # MB reported used
    st.one_of(st.none(), st.integers(0, 200)),  # MB asked for
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(step, min_size=1, max_size=25),
    quota_mb=st.integers(1, 400),
    cuts=st.sets(st.integers(1, 24), max_size=6),
)
def test_a_group_answers_every_request_as_it_would_be_answered_alone(
    db: Database, ctx: Context, steps: list[tuple[Any, ...]], quota_mb: int, cuts: set[int]
) -> None:
    """Credit control in groups (one transaction, one read and one write per table) gives
    every request the answer or refusal it gets alone, and leaves the same packages,
    sessions, reservations and usage: two cards with the same package get the same
    requests, one a transaction each, the other cut into groups."""
    cards = _twin_cards(db, ctx, quota_mb)

    def requests_for(msisdn: str) -> list[network.CreditControlRequest]:
        numbers = [-1, -1, -1]
        out = []
        for index, kind, move, used, asked in steps:
            numbers[index] = max(numbers[index] + move, 0)
            out.append(
                network.CreditControlRequest(
                    session_id=f"{msisdn[-6:]}-{index}",
                    msisdn=msisdn,
                    request_type=kind,
                    request_number=numbers[index],
                    requested_bytes=None if asked is None else asked * MB,
                    used_bytes=used * MB,
                )
            )
        return out

    def shown(outcome: Any, msisdn: str) -> Any:
        if isinstance(outcome, KuotaError):
            return (type(outcome).__name__, outcome.detail.replace(msisdn[-6:], "*"))
        return orjson.loads(orjson.dumps(outcome).decode().replace(msisdn.replace("+", ""), "*"))

    (alone_msisdn, alone_id), (grouped_msisdn, grouped_id) = cards
    alone = []
    for request in requests_for(alone_msisdn):
        try:
            with db.unit_of_work() as s:
                alone.append(shown(network.credit_control(s, ctx, request), alone_msisdn))
        except KuotaError as refusal:
            alone.append(shown(refusal, alone_msisdn))
    grouped_requests = requests_for(grouped_msisdn)
    grouped = []
    for group in _cut(grouped_requests, cuts):
        with db.unit_of_work() as s:
            outcomes = network.credit_control_many(s, ctx, group)
        grouped += [shown(outcome, grouped_msisdn) for outcome in outcomes]
    assert grouped == alone

    def state(card_id: int) -> tuple[Any, ...]:
        with db.unit_of_work(write=False) as s:
            package = s.execute(select(Package).where(Package.card_id == card_id)).scalar_one()
            sessions = s.execute(
                select(
                    UsageSession.status,
                    UsageSession.last_request_number,
                    UsageSession.reported_bytes,
                    UsageSession.charged_bytes,
                    UsageSession.reservation_expires_at,
                )
                .where(UsageSession.card_id == card_id)
                .order_by(UsageSession.id)
            ).all()
            held = s.execute(
                select(func.coalesce(func.sum(QuotaReservation.bytes), 0)).where(
                    QuotaReservation.package_id == package.id
                )
            ).scalar_one()
            records = s.execute(
                select(UsageRecord.bytes, UsageRecord.uncharged_bytes)
                .where(UsageRecord.card_id == card_id)
                .order_by(UsageRecord.id)
            ).all()
        return (
            package.quota_used_bytes,
            package.quota_reserved_bytes,
            held,
            [tuple(row) for row in sessions],
            [tuple(row) for row in records],
        )

    assert state(grouped_id) == state(alone_id)


record = st.tuples(
    st.integers(0, 2),  # which RADIUS session
    st.integers(-40, 120),  # MB the running total moves (a lower total arrives late)
    st.booleans(),  # Stop
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    records=st.lists(record, min_size=1, max_size=25),
    quota_mb=st.integers(1, 400),
    cuts=st.sets(st.integers(1, 24), max_size=6),
)
def test_accounting_in_groups_charges_as_records_one_by_one(
    db: Database, ctx: Context, records: list[tuple[Any, ...]], quota_mb: int, cuts: set[int]
) -> None:
    """RADIUS accounting in groups charges each record what it would charge alone, with
    retransmissions, late records and stops among them."""
    now = ctx.clock.now()
    cards = _twin_cards(db, ctx, quota_mb)

    def records_for(msisdn: str) -> list[network.AccountingRecord]:
        totals = [0, 0, 0]
        out = []
        for index, move, stop in records:
            totals[index] = max(totals[index] + move * MB, 0)
            out.append(
                network.AccountingRecord(
                    msisdn=msisdn,
                    session_key=f"{msisdn[-6:]}-{index}",
                    reported_total_bytes=totals[index],
                    stop=stop,
                    nas_address="127.0.0.1",
                )
            )
        return out

    (alone_msisdn, alone_id), (grouped_msisdn, grouped_id) = cards
    alone = []
    for item in records_for(alone_msisdn):
        with db.unit_of_work() as s:
            got = network.account_many(s, [item], now)[0]
        alone.append((got.charged, got.uncharged, got.exhausted))
    grouped_records = records_for(grouped_msisdn)
    grouped = []
    for group in _cut(grouped_records, cuts):
        with db.unit_of_work() as s:
            outcomes = network.account_many(s, group, now)
        grouped += [(got.charged, got.uncharged, got.exhausted) for got in outcomes]
    assert grouped == alone

    def state(card_id: int) -> tuple[Any, ...]:
        with db.unit_of_work(write=False) as s:
            package = s.execute(select(Package).where(Package.card_id == card_id)).scalar_one()
            sessions = s.execute(
                select(UsageSession.status, UsageSession.reported_bytes, UsageSession.charged_bytes)
                .where(UsageSession.card_id == card_id)
                .order_by(UsageSession.id)
            ).all()
        return package.quota_used_bytes, [tuple(row) for row in sessions]

    assert state(grouped_id) == state(alone_id)
