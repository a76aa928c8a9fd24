"""The package lifecycle sweep, moved through a package's life by a FixedClock, on SQLite
and PostgreSQL: reminders once per period, expiry, auto-renewal, low quota."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from kuota.cards.models import Card, CardStatus
from kuota.catalog import service as catalog
from kuota.core.clock import FixedClock
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.localtime import format_local
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.notify import templates
from kuota.notify.models import OutboxMessage
from kuota.renewals import service as renewals
from kuota.renewals.models import Channel, Renewal
from kuota.renewals.service import RenewalRequest
from kuota.usage import lifecycle, network
from kuota.usage import service as usage
from kuota.usage.lifecycle import SweepStats
from kuota.usage.models import Package, QuotaReservation, ReminderSent

from factories import charge_card, make_card, make_subscriber, publish_demo_plans, rupiah

GB = 10**9
MB = 10**6
PLAN = "DATA-1GB-7D"
PLAN_NAME = "Data 1 GB / 7 hari"
WEEK = timedelta(days=7)

Message = tuple[str, str, str, str]  # channel, recipient, subject, body


# -- helpers -------------------------------------------------------------------------------


def buy(db: Database, ctx: Context, who: Principal, msisdn: str, plan: str = PLAN) -> None:
    with db.unit_of_work() as s:
        renewals.renew(s, ctx, who, RenewalRequest(msisdn, plan, "balance"))


def sweep(db: Database, ctx: Context, batch: int = 1000) -> dict[str, int]:
    """The sweep's counts that are not zero."""
    return {k: v for k, v in asdict(lifecycle.sweep(db, ctx, batch=batch)).items() if v}


def card_id_of(db: Database, msisdn: str) -> int:
    with db.unit_of_work(write=False) as s:
        return s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one()


def set_card(db: Database, msisdn: str, **values: object) -> None:
    with db.unit_of_work() as s:
        s.execute(update(Card).where(Card.msisdn == msisdn).values(**values))


def balance(db: Database, msisdn: str) -> int:
    with db.unit_of_work(write=False) as s:
        return ledger.card_balance(s, card_id_of(db, msisdn)).amount


def packages(db: Database, msisdn: str) -> list[Package]:
    card_id = card_id_of(db, msisdn)
    with db.unit_of_work(write=False) as s:
        return list(
            s.execute(select(Package).where(Package.card_id == card_id).order_by(Package.id))
            .scalars()
            .all()
        )


class Outbox:
    """Messages queued since the last look."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.seen = 0

    def new(self) -> list[Message]:
        with self.db.unit_of_work(write=False) as s:
            rows = s.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.channel,
                    OutboxMessage.recipient,
                    OutboxMessage.subject,
                    OutboxMessage.body,
                )
                .where(OutboxMessage.id > self.seen)
                .order_by(OutboxMessage.id)
            ).all()
        if rows:
            self.seen = rows[-1].id
        return [(r.channel, r.recipient, r.subject, r.body) for r in rows]


def subject(template: str, locale: str = "en", **values: object) -> str:
    defaults: dict[str, object] = {
        "plan_name": PLAN_NAME,
        "msisdn": "",
        "expires_at": "",
        "remaining": "",
        "percent": 0,
        "renew_url": "",
        "price": "",
        "balance": "",
        "top_up_url": "",
    }
    return templates.render(template, locale, **{**defaults, **values})[0]


def local(ctx: Context, instant: datetime) -> str:
    return format_local(instant, ctx.settings.operator_timezone)


@pytest.fixture
def bought(db: Database, ctx: Context) -> tuple[Principal, str, datetime]:
    """An English-speaking subscriber's card with Rp 200.000 and a 7-day package bought
    now; returns the owner, the card and the package's expiry."""
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        user = make_subscriber(s, ctx, locale="en")
        msisdn = make_card(s, ctx, user, balance=200_000)
    buy(db, ctx, user, msisdn)
    return user, msisdn, ctx.clock.now() + WEEK


# -- reminders -----------------------------------------------------------------------------


def test_reminders_follow_a_package_through_its_life(
    db: Database, ctx: Context, clock: FixedClock, bought: tuple[Principal, str, datetime]
) -> None:
    user, msisdn, expiry = bought
    outbox = Outbox(db)
    outbox.new()  # the purchase's own confirmation

    assert sweep(db, ctx) == {}
    clock.set(expiry - timedelta(days=4))
    assert sweep(db, ctx) == {}
    assert outbox.new() == []

    clock.set(expiry - timedelta(days=3))
    assert sweep(db, ctx) == {"reminders_3d": 1}
    sent = outbox.new()
    assert {(channel, to) for channel, to, _, _ in sent} == {("sms", msisdn), ("email", user.name)}
    assert {subj for _, _, subj, _ in sent} == {subject("package_expires_in_3_days")}
    assert all(local(ctx, expiry) in body and "1 GB left" in body for *_, body in sent)
    assert all("http://kuota.test/renew?msisdn=%2B62" in body for *_, body in sent)
    assert sweep(db, ctx) == {}
    assert outbox.new() == []

    clock.set(expiry - timedelta(hours=12))
    assert sweep(db, ctx) == {"reminders_1d": 1}
    assert {subj for _, _, subj, _ in outbox.new()} == {subject("package_expires_tomorrow")}
    assert sweep(db, ctx) == {}

    clock.set(expiry)
    assert sweep(db, ctx) == {"expired": 1}
    sent = outbox.new()
    assert len(sent) == 2
    assert {subj for _, _, subj, _ in sent} == {subject("package_expired")}
    clock.advance(timedelta(hours=1))
    assert sweep(db, ctx) == {}
    assert outbox.new() == []
    assert balance(db, msisdn) == rupiah(185_000).amount  # no auto-renewal: it is off


def test_a_late_sweep_sends_only_the_most_urgent_reminder(
    db: Database, ctx: Context, clock: FixedClock, bought: tuple[Principal, str, datetime]
) -> None:
    _, _, expiry = bought
    clock.set(expiry - timedelta(hours=6))  # the worker was down through the 3-day mark
    assert sweep(db, ctx) == {"reminders_1d": 1}
    clock.set(expiry + timedelta(days=2))
    assert sweep(db, ctx) == {"expired": 1}
    assert sweep(db, ctx) == {}


def test_an_expiry_long_past_is_not_announced(
    db: Database, ctx: Context, clock: FixedClock, bought: tuple[Principal, str, datetime]
) -> None:
    _, _, expiry = bought
    outbox = Outbox(db)
    outbox.new()
    clock.set(expiry + lifecycle.EXPIRY_LOOKBACK + timedelta(minutes=1))
    assert sweep(db, ctx) == {}
    assert outbox.new() == []


def test_an_extended_package_gets_its_reminders_again(
    db: Database, ctx: Context, clock: FixedClock, bought: tuple[Principal, str, datetime]
) -> None:
    user, msisdn, expiry = bought
    clock.set(expiry - timedelta(days=3))
    assert sweep(db, ctx) == {"reminders_3d": 1}
    buy(db, ctx, user, msisdn)  # the same plan while active: extended by 7 days
    [package] = packages(db, msisdn)
    assert package.expires_at == expiry + WEEK
    assert sweep(db, ctx) == {}

    clock.set(expiry + WEEK - timedelta(days=3))
    assert sweep(db, ctx) == {"reminders_3d": 1}
    clock.set(expiry + WEEK - timedelta(hours=1))
    assert sweep(db, ctx) == {"reminders_1d": 1}
    clock.set(expiry + WEEK)
    assert sweep(db, ctx) == {"expired": 1}
    with db.unit_of_work(write=False) as s:
        sent = s.execute(
            select(ReminderSent.kind, ReminderSent.period_end).order_by(ReminderSent.sent_at)
        ).all()
    assert [(kind, end) for kind, end in sent] == [
        ("3d", expiry),
        ("3d", expiry + WEEK),
        ("1d", expiry + WEEK),
        ("expired", expiry + WEEK),
    ]


def test_low_quota_is_told_once_per_period(
    db: Database, ctx: Context, clock: FixedClock, bought: tuple[Principal, str, datetime]
) -> None:
    user, msisdn, expiry = bought
    card_id = card_id_of(db, msisdn)
    outbox = Outbox(db)
    outbox.new()
    with db.unit_of_work() as s:
        charge_card(s, card_id, 850 * MB, clock.now(), source="import")
    assert sweep(db, ctx) == {}  # 15 % left

    clock.advance(timedelta(hours=1))
    with db.unit_of_work() as s:
        charge_card(s, card_id, 60 * MB, clock.now(), source="import")
    assert sweep(db, ctx) == {"low_quota": 1}  # 9 % left
    sent = outbox.new()
    assert {(channel, to) for channel, to, _, _ in sent} == {("sms", msisdn), ("email", user.name)}
    assert {subj for _, _, subj, _ in sent} == {subject("package_quota_low", percent=9)}
    assert all("90 MB left (9%)" in body for *_, body in sent)

    with db.unit_of_work() as s:
        charge_card(s, card_id, 90 * MB, clock.now(), source="import")
    assert sweep(db, ctx) == {}  # used up: still the same period, told already
    assert outbox.new() == []

    buy(db, ctx, user, msisdn)  # extended: +1 GB, a new period, no longer low
    assert sweep(db, ctx) == {}
    with db.unit_of_work() as s:
        charge_card(s, card_id, 950 * MB, clock.now(), source="import")
    assert sweep(db, ctx) == {"low_quota": 1}  # low again in the new period
    assert [end for (end,) in _reminders(db, "low")] == [expiry, expiry + WEEK]


def _reminders(db: Database, kind: str) -> list[tuple[datetime]]:
    with db.unit_of_work(write=False) as s:
        return [
            (row.period_end,)
            for row in s.execute(
                select(ReminderSent.period_end)
                .where(ReminderSent.kind == kind)
                .order_by(ReminderSent.period_end)
            )
        ]


@pytest.mark.parametrize(("locale", "words"), [("id", "berakhir"), ("en", "ends"), ("zh", "到期")])
def test_reminders_speak_the_owner_language(
    db: Database, ctx: Context, clock: FixedClock, locale: str, words: str
) -> None:
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        user = make_subscriber(s, ctx, locale=locale)
        msisdn = make_card(s, ctx, user, balance=50_000)
    buy(db, ctx, user, msisdn)
    outbox = Outbox(db)
    outbox.new()
    clock.advance(WEEK - timedelta(days=2))
    assert sweep(db, ctx) == {"reminders_3d": 1}
    sent = outbox.new()
    assert sorted((channel, to) for channel, to, _, _ in sent) == [
        ("email", user.name),
        ("sms", msisdn),
    ]
    assert {subj for _, _, subj, _ in sent} == {subject("package_expires_in_3_days", locale)}
    assert all(words in body and msisdn in body for *_, body in sent)


def test_a_card_without_owner_gets_sms_in_indonesian(
    db: Database, ctx: Context, clock: FixedClock
) -> None:
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        msisdn = make_card(s, ctx, None)
        plan = catalog.current_plan(s, "DATA-5GB-30D")
        usage.add_purchase(
            s,
            card_id=s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one(),
            plan_code=plan.code,
            plan_version_id=plan.id,
            data_bytes=plan.data_bytes,
            validity_days=plan.validity_days,
            now=clock.now(),
        )
    outbox = Outbox(db)
    clock.advance(timedelta(days=29))
    assert sweep(db, ctx) == {"reminders_1d": 1}
    [(channel, to, subj, body)] = outbox.new()
    assert (channel, to) == ("sms", msisdn)
    assert subj == subject("package_expires_tomorrow", "id", plan_name="Data 5 GB / 30 hari")
    assert "Sisa kuota 5 GB" in body


def test_a_terminated_card_is_not_reminded(
    db: Database, ctx: Context, clock: FixedClock, bought: tuple[Principal, str, datetime]
) -> None:
    _, msisdn, expiry = bought
    set_card(db, msisdn, status=CardStatus.TERMINATED, auto_renew=True)
    for at in (expiry - timedelta(days=3), expiry - timedelta(hours=1), expiry):
        clock.set(at)
        assert sweep(db, ctx) == {}


def test_batches_page_through_every_due_package(
    db: Database, ctx: Context, clock: FixedClock
) -> None:
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        owners = [make_subscriber(s, ctx) for _ in range(5)]
        cards = [make_card(s, ctx, owner, balance=20_000) for owner in owners]
    for minutes, (owner, msisdn) in enumerate(zip(owners, cards, strict=True)):
        clock.set(clock.now() + timedelta(minutes=minutes))  # expiries a minute apart
        buy(db, ctx, owner, msisdn)
    clock.advance(WEEK - timedelta(days=2))
    assert sweep(db, ctx, batch=2) == {"reminders_3d": 5}
    assert sweep(db, ctx, batch=2) == {}
    clock.advance(timedelta(days=3))
    assert sweep(db, ctx, batch=2) == {"expired": 5}
    with db.unit_of_work(write=False) as s:
        per_card = s.execute(
            select(OutboxMessage.recipient, func.count())
            .where(OutboxMessage.channel == "sms")
            .group_by(OutboxMessage.recipient)
        ).all()
    assert dict(per_card) == dict.fromkeys(cards, 3)  # confirmation, 3-day, expired


# -- auto-renewal --------------------------------------------------------------------------


def _renewals(db: Database, msisdn: str) -> list[Renewal]:
    card_id = card_id_of(db, msisdn)
    with db.unit_of_work(write=False) as s:
        return list(
            s.execute(
                select(Renewal).where(Renewal.card_id == card_id).order_by(Renewal.created_at)
            )
            .scalars()
            .all()
        )


def test_auto_renewal_at_expiry_renews_once_from_the_main_balance(
    db: Database, ctx: Context, clock: FixedClock, bought: tuple[Principal, str, datetime]
) -> None:
    user, msisdn, expiry = bought
    set_card(db, msisdn, auto_renew=True)
    outbox = Outbox(db)
    outbox.new()
    clock.set(expiry - timedelta(days=3))
    assert sweep(db, ctx) == {"reminders_3d": 1}  # reminded like any card
    outbox.new()

    clock.set(expiry)
    assert sweep(db, ctx) == {"expired": 1, "auto_renewed": 1}
    assert sweep(db, ctx) == {}
    clock.advance(timedelta(minutes=5))
    assert sweep(db, ctx) == {}

    assert balance(db, msisdn) == rupiah(200_000 - 2 * 15_000).amount
    old, new = packages(db, msisdn)  # renewed after expiry: a new package starts now
    assert old.expires_at == expiry
    assert (new.starts_at, new.expires_at) == (expiry, expiry + WEEK)
    assert new.quota_total_bytes == GB
    first, auto = _renewals(db, msisdn)
    assert first.actor.startswith(f"user:{user.id}:")
    assert auto.status == "fulfilled" and auto.payment_method == "balance"
    assert auto.actor.startswith(f"{lifecycle.AUTO_RENEWAL}:{user.id}:")
    # Channel.AUTO once renew() maps the auto-renewal principal to it; ONLINE until then.
    assert auto.channel in {Channel.AUTO, Channel.ONLINE}
    # The renewal service's own confirmation, with its receipt, is the message.
    sent = outbox.new()
    assert {(channel, to) for channel, to, _, _ in sent} == {("sms", msisdn), ("email", user.name)}
    assert all(str(auto.receipt_no) in body for *_, body in sent)

    clock.set(expiry + WEEK - timedelta(days=3))  # the new package has its own reminders
    assert sweep(db, ctx) == {"reminders_3d": 1}
    clock.set(expiry + WEEK)
    assert sweep(db, ctx) == {"expired": 1, "auto_renewed": 1}
    assert balance(db, msisdn) == rupiah(200_000 - 3 * 15_000).amount


def test_concurrent_sweeps_auto_renew_once(
    db: Database, ctx: Context, clock: FixedClock, bought: tuple[Principal, str, datetime]
) -> None:
    _, msisdn, expiry = bought
    set_card(db, msisdn, auto_renew=True)
    clock.set(expiry - timedelta(days=3))
    outbox = Outbox(db)
    outbox.new()
    barrier = threading.Barrier(4)

    def run() -> SweepStats:
        barrier.wait()
        return lifecycle.sweep(db, ctx)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: run(), range(4)))
    assert sum(r.reminders_3d for r in results) == 1
    assert len(outbox.new()) == 2

    clock.set(expiry)
    barrier.reset()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: run(), range(4)))
    assert sum(r.auto_renewed for r in results) == 1
    assert sum(r.expired for r in results) == 1
    assert balance(db, msisdn) == rupiah(200_000 - 2 * 15_000).amount
    assert len(_renewals(db, msisdn)) == 2
    assert len(packages(db, msisdn)) == 2
    assert len(outbox.new()) == 2  # one confirmation, by SMS and e-mail


def test_a_short_balance_gets_the_top_up_message_once(
    db: Database, ctx: Context, clock: FixedClock
) -> None:
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        user = make_subscriber(s, ctx, locale="en")
        msisdn = make_card(s, ctx, user, balance=25_000)
    buy(db, ctx, user, msisdn)  # Rp 10.000 left, the plan costs Rp 15.000
    set_card(db, msisdn, auto_renew=True)
    expiry = clock.now() + WEEK
    outbox = Outbox(db)
    outbox.new()

    clock.set(expiry)
    assert sweep(db, ctx) == {"expired": 1, "auto_renew_short": 1}
    sent = outbox.new()
    assert {(channel, to) for channel, to, _, _ in sent} == {("sms", msisdn), ("email", user.name)}
    assert {subj for _, _, subj, _ in sent} == {subject("auto_renewal_balance_short")}
    for *_, body in sent:
        assert "Rp 15.000" in body and "Rp 10.000" in body
        assert f"http://kuota.test/top-up?msisdn=%2B{msisdn[1:]}" in body
    assert sweep(db, ctx) == {}
    clock.advance(timedelta(hours=1))
    assert sweep(db, ctx) == {}
    assert outbox.new() == []
    assert balance(db, msisdn) == rupiah(10_000).amount
    assert len(_renewals(db, msisdn)) == 1
    assert len(packages(db, msisdn)) == 1


def test_a_plan_bought_again_by_hand_after_expiry_is_not_renewed_twice(
    db: Database, ctx: Context, clock: FixedClock, bought: tuple[Principal, str, datetime]
) -> None:
    user, msisdn, expiry = bought
    set_card(db, msisdn, auto_renew=True)
    clock.set(expiry + timedelta(minutes=1))
    buy(db, ctx, user, msisdn)  # before the worker came by
    assert sweep(db, ctx) == {}
    assert balance(db, msisdn) == rupiah(200_000 - 2 * 15_000).amount


def test_auto_renewal_turned_off_gets_the_plain_notice(
    db: Database, ctx: Context, clock: FixedClock, bought: tuple[Principal, str, datetime]
) -> None:
    _, msisdn, expiry = bought
    set_card(db, msisdn, auto_renew=True)
    set_card(db, msisdn, auto_renew=False)
    clock.set(expiry)
    assert sweep(db, ctx) == {"expired": 1}
    assert len(_renewals(db, msisdn)) == 1


# -- the rest of the pass ------------------------------------------------------------------


def test_reservations_past_their_validity_are_released(
    db: Database, ctx: Context, clock: FixedClock, bought: tuple[Principal, str, datetime]
) -> None:
    _, msisdn, _ = bought
    with db.unit_of_work() as s:
        answer = network.credit_control(
            s,
            ctx,
            network.CreditControlRequest(
                session_id="gy-1", msisdn=msisdn, request_type="initial", request_number=0
            ),
        )
    assert answer["granted_bytes"] > 0
    clock.advance(timedelta(seconds=answer["validity_time"] + 1))
    assert sweep(db, ctx) == {"reservations_released": 1}
    [package] = packages(db, msisdn)
    assert package.quota_reserved_bytes == 0
    with db.unit_of_work(write=False) as s:
        assert s.execute(select(func.count()).select_from(QuotaReservation)).scalar_one() == 0


def test_run_forever_sweeps_at_once_when_the_clock_is_moved(
    db: Database,
    ctx: Context,
    clock: FixedClock,
    bought: tuple[Principal, str, datetime],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, _, expiry = bought
    sweeps: list[SweepStats] = []
    real_sweep = lifecycle.sweep

    def counted(db: Database, ctx: Context, *, batch: int = 1000) -> SweepStats:
        sweeps.append(real_sweep(db, ctx, batch=batch))
        return sweeps[-1]

    def wait_for(done: Callable[[], bool]) -> None:
        for _ in range(1000):
            if done():
                return
            stop.wait(0.01)
        raise AssertionError("the worker did not get there in 10 s")

    monkeypatch.setattr(lifecycle, "sweep", counted)
    stop = threading.Event()
    worker = threading.Thread(
        target=lifecycle.run_forever,
        args=(db, ctx),
        kwargs={"stop": stop, "interval_seconds": 3600, "poll_seconds": 0.01},
    )
    worker.start()
    try:
        wait_for(lambda: len(sweeps) == 1)  # the first pass, at once
        assert sweeps[0].total() == 0
        clock.set(expiry - timedelta(days=3))  # the test clock moved: no waiting an hour
        wait_for(lambda: len(sweeps) == 2)
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()
    assert sweeps[1].reminders_3d == 1
    assert _reminders(db, "3d") == [(expiry,)]
