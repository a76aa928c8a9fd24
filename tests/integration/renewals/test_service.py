"""Every renewal rule of PRODUCT.md, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from kuota.auth.models import Role
from kuota.cards.models import Card, CardStatus
from kuota.catalog import promotions
from kuota.catalog import service as catalog
from kuota.core.clock import FixedClock
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.errors import (
    Conflict,
    Forbidden,
    InsufficientFunds,
    InvalidInput,
    NotFound,
    PaymentMethodUnavailable,
    PromotionRejected,
)
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.notify.models import OutboxMessage
from kuota.payments.gateway import GatewayEvent, GatewayStatus
from kuota.payments.settlement import settle
from kuota.renewals import service as renewals
from kuota.renewals.service import RenewalRequest
from kuota.usage.models import Package

from factories import make_card, make_staff, make_subscriber, publish_demo_plans, rupiah

GB = 10**9


@pytest.fixture
def owner(db: Database, ctx: Context) -> tuple[Principal, str]:
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        user = make_subscriber(s, ctx, locale="en")
        number = make_card(s, ctx, user, balance=200_000)
    return user, number


def renew(
    db: Database,
    ctx: Context,
    who: Principal,
    msisdn: str,
    plan: str = "DATA-1GB-7D",
    method: str = "balance",
    promo: str | None = None,
    **kw: object,
) -> dict[str, object]:
    with db.unit_of_work() as s:
        return renewals.renew(s, ctx, who, RenewalRequest(msisdn, plan, method, promo), **kw)  # type: ignore[arg-type]


def balance(db: Database, msisdn: str) -> int:
    with db.unit_of_work(write=False) as s:
        card_id = s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one()
        return ledger.card_balance(s, card_id).amount


def packages(db: Database, msisdn: str) -> list[Package]:
    with db.unit_of_work(write=False) as s:
        return list(
            s.execute(
                select(Package)
                .join(Card, Card.id == Package.card_id)
                .where(Card.msisdn == msisdn)
                .order_by(Package.id)
            ).scalars()
        )


def test_balance_renewal_is_fulfilled_debited_and_confirmed(
    db: Database, ctx: Context, owner: tuple[Principal, str]
) -> None:
    user, msisdn = owner
    result = renew(db, ctx, user, msisdn, "DATA-5GB-30D")
    assert result["status"] == "fulfilled"
    assert str(result["receipt_no"]).startswith("KU-")
    assert result["total"] == {"amount": 5_000_000, "currency": "IDR"}
    assert balance(db, msisdn) == rupiah(150_000).amount
    [package] = packages(db, msisdn)
    assert package.quota_total_bytes == 5 * GB
    assert package.expires_at == ctx.clock.now() + timedelta(hours=30 * 24)
    with db.unit_of_work(write=False) as s:
        sent = s.execute(
            select(OutboxMessage.channel, OutboxMessage.recipient, OutboxMessage.body)
        ).all()
    assert {(c, r) for c, r, _ in sent} == {("sms", msisdn), ("email", user.name)}
    assert all("Rp 50.000" in body and "verify" in body for _, _, body in sent)


def test_same_plan_while_active_extends_expiry_and_adds_quota(
    db: Database, ctx: Context, clock: FixedClock, owner: tuple[Principal, str]
) -> None:
    user, msisdn = owner
    renew(db, ctx, user, msisdn)
    first_expiry = packages(db, msisdn)[0].expires_at
    with db.unit_of_work() as s:  # use a quarter of the quota
        s.execute(Package.__table__.update().values(quota_used_bytes=GB // 4))
    clock.advance(timedelta(days=3))
    renew(db, ctx, user, msisdn)
    [package] = packages(db, msisdn)
    assert package.expires_at == first_expiry + timedelta(days=7)
    assert package.quota_total_bytes - package.quota_used_bytes == GB - GB // 4 + GB


def test_another_plan_adds_a_separate_package(
    db: Database, ctx: Context, owner: tuple[Principal, str]
) -> None:
    user, msisdn = owner
    renew(db, ctx, user, msisdn, "DATA-1GB-7D")
    renew(db, ctx, user, msisdn, "DATA-5GB-30D")
    assert [p.plan_code for p in packages(db, msisdn)] == ["DATA-1GB-7D", "DATA-5GB-30D"]


def test_after_expiry_a_new_package_starts_now(
    db: Database, ctx: Context, clock: FixedClock, owner: tuple[Principal, str]
) -> None:
    user, msisdn = owner
    renew(db, ctx, user, msisdn)
    clock.advance(timedelta(days=7))  # exactly at expiry: the package has ended
    renew(db, ctx, user, msisdn)
    old, new = packages(db, msisdn)
    assert new.id != old.id
    assert new.starts_at == clock.now()
    assert new.expires_at == clock.now() + timedelta(days=7)


def test_short_balance_is_refused_with_amounts_and_changes_nothing(
    db: Database, ctx: Context
) -> None:
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        user = make_subscriber(s, ctx)
        msisdn = make_card(s, ctx, user, balance=10_000)
    with pytest.raises(InsufficientFunds) as info:
        renew(db, ctx, user, msisdn, "DATA-1GB-7D")
    assert "Rp 10.000" in info.value.detail and "Rp 15.000" in info.value.detail
    assert info.value.status == 402
    assert balance(db, msisdn) == rupiah(10_000).amount
    assert packages(db, msisdn) == []


def test_sale_keeps_the_plan_version_it_was_sold_at(
    db: Database, ctx: Context, owner: tuple[Principal, str]
) -> None:
    user, msisdn = owner
    first = renew(db, ctx, user, msisdn)
    with db.unit_of_work() as s:
        catalog.publish_plan(
            s,
            code="DATA-1GB-7D",
            name="Data 1 GB",
            price=rupiah(17_000),
            data_bytes=GB,
            validity_days=7,
            now=ctx.clock.now(),
        )
    second = renew(db, ctx, user, msisdn)
    assert (first["plan_version"], first["total"]) == (1, rupiah(15_000).as_json())
    assert (second["plan_version"], second["total"]) == (2, rupiah(17_000).as_json())
    with db.unit_of_work(write=False) as s:
        again = renewals.get_renewal(s, user, str(first["id"]))
    assert again["plan_version"] == 1 and again["total"] == rupiah(15_000).as_json()


@pytest.mark.parametrize(
    ("kind", "value", "total", "bonus"),
    [
        ("percent", 1000, 13_500, 0),
        ("fixed", 200_000, 13_000, 0),
        ("bonus_quota", 500_000_000, 15_000, 500_000_000),
    ],
)
def test_promotions_price_and_ledger(
    db: Database,
    ctx: Context,
    owner: tuple[Principal, str],
    kind: str,
    value: int,
    total: int,
    bonus: int,
) -> None:
    user, msisdn = owner
    with db.unit_of_work() as s:
        promotions.create_promotion(
            s,
            code="hemat",
            kind=kind,
            value=value,
            currency="IDR",
            starts_at=ctx.clock.now() - timedelta(days=1),
            ends_at=ctx.clock.now() + timedelta(days=1),
            plan_codes=None,
            channels=["online"],
            max_redemptions=None,
            max_per_card=None,
            now=ctx.clock.now(),
        )
    result = renew(db, ctx, user, msisdn, promo="HEMAT")
    assert result["total"] == rupiah(total).as_json()
    assert result["bonus_bytes"] == bonus
    assert balance(db, msisdn) == rupiah(200_000 - total).amount
    [package] = packages(db, msisdn)
    assert package.quota_total_bytes == GB + bonus


def test_promotion_total_and_per_card_limits(
    db: Database, ctx: Context, owner: tuple[Principal, str]
) -> None:
    user, msisdn = owner
    with db.unit_of_work() as s:
        other = make_card(s, ctx, user, balance=100_000)
        promotions.create_promotion(
            s,
            code="LIMIT",
            kind="percent",
            value=1000,
            currency="IDR",
            starts_at=ctx.clock.now(),
            ends_at=ctx.clock.now() + timedelta(days=1),
            plan_codes=["DATA-1GB-7D"],
            channels=None,
            max_redemptions=2,
            max_per_card=1,
            now=ctx.clock.now(),
        )
    renew(db, ctx, user, msisdn, promo="LIMIT")
    with pytest.raises(PromotionRejected, match="already used promotion LIMIT 1 time"):
        renew(db, ctx, user, msisdn, promo="LIMIT")
    renew(db, ctx, user, other, promo="LIMIT")
    with db.unit_of_work() as s:
        third = make_card(s, ctx, user, balance=100_000)
    with pytest.raises(PromotionRejected, match="fully redeemed"):
        renew(db, ctx, user, third, promo="LIMIT")
    with pytest.raises(PromotionRejected, match="does not apply to plan DATA-5GB-30D"):
        renew(db, ctx, user, third, "DATA-5GB-30D", promo="LIMIT")


def test_bad_input_is_named_and_changes_nothing(
    db: Database, ctx: Context, owner: tuple[Principal, str]
) -> None:
    user, msisdn = owner
    cases: list[tuple[dict[str, object], type[Exception], str]] = [
        ({"msisdn": "0000"}, InvalidInput, "not a valid mobile number"),
        ({"plan": "DATA-99GB"}, InvalidInput, "no plan 'DATA-99GB'"),
        ({"method": "retail_float"}, PaymentMethodUnavailable, "not accepted through the online"),
        ({"method": "card"}, PaymentMethodUnavailable, "no payment gateway"),
        ({"promo": "NOPE"}, PromotionRejected, "no promotion 'NOPE'"),
    ]
    for over, error, message in cases:
        args = {"msisdn": msisdn, "plan": "DATA-1GB-7D", "method": "balance", "promo": None}
        args.update(over)
        with pytest.raises(error, match=message):
            renew(
                db,
                ctx,
                user,
                str(args["msisdn"]),
                str(args["plan"]),
                str(args["method"]),
                args["promo"],
            )  # type: ignore[arg-type]
    assert balance(db, msisdn) == rupiah(200_000).amount
    assert packages(db, msisdn) == []


def test_only_the_owner_buys_online(
    db: Database, ctx: Context, owner: tuple[Principal, str]
) -> None:
    _, msisdn = owner
    with db.unit_of_work() as s:
        stranger = make_subscriber(s, ctx)
        admin = make_staff(s, ctx, Role.ADMIN)
    with pytest.raises(NotFound):
        renew(db, ctx, stranger, msisdn)
    with pytest.raises(Forbidden, match="balance adjustment"):
        renew(db, ctx, admin, msisdn)
    with db.unit_of_work(write=False) as s, pytest.raises(NotFound):
        renewals.history(s, stranger, msisdn, limit=10, before=None)


def test_terminated_card_cannot_be_renewed(
    db: Database, ctx: Context, owner: tuple[Principal, str]
) -> None:
    user, msisdn = owner
    with db.unit_of_work() as s:
        s.execute(Card.__table__.update().values(status=CardStatus.TERMINATED))
    with pytest.raises(Conflict, match="terminated"):
        renew(db, ctx, user, msisdn)


def test_gateway_payment_is_fulfilled_exactly_once_when_it_completes(
    db: Database, ctx: Context, owner: tuple[Principal, str]
) -> None:
    user, msisdn = owner
    pending = renew(db, ctx, user, msisdn, method="qris", gateway_methods=frozenset({"qris"}))
    assert pending["status"] == "pending_payment" and pending["package"] is None
    payment_id = pending["payment"]["id"]  # type: ignore[index]
    paid = GatewayEvent(
        order_id=payment_id, status=GatewayStatus.SUCCEEDED, provider_reference="gw-1"
    )
    with db.unit_of_work() as s:
        done = settle(s, ctx, paid, actor="test")
    with db.unit_of_work() as s:
        again = settle(s, ctx, paid, actor="test")
    assert done.action == "fulfilled" and again.action == "unchanged"
    assert len(packages(db, msisdn)) == 1
    assert balance(db, msisdn) == rupiah(200_000).amount  # paid by the gateway, not the balance
    with db.unit_of_work(write=False) as s:
        entries = s.execute(
            select(func.count())
            .select_from(ledger.JournalEntry)
            .where(ledger.JournalEntry.kind == "renewal")
        ).scalar_one()
    assert entries == 1


def test_a_rolled_back_renewal_sends_nothing(
    db: Database, ctx: Context, owner: tuple[Principal, str]
) -> None:
    """The confirmations are outbox rows in the sale's own transaction: when anything after
    the sale fails and the transaction rolls back, no SMS or e-mail is ever sent."""
    who, number = owner

    class LaterStepFailed(Exception):
        pass

    with pytest.raises(LaterStepFailed), db.unit_of_work() as s:
        sold = renewals.renew(s, ctx, who, RenewalRequest(number, "DATA-1GB-7D", "balance"))
        assert sold["status"] == "fulfilled"
        assert s.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 2
        raise LaterStepFailed
    with db.unit_of_work(write=False) as s:
        assert s.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 0
    assert balance(db, number) == 20_000_000
    assert packages(db, number) == []
