"""The renewal service: quote → pay → fulfil → receipt number → confirmations.

Every channel calls `renew`; only the principal, the channel and the payment
method differ. The caller's transaction holds the card's row lock from the
first read, so purchases for one card are serialised everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from kuota.auth.models import User
from kuota.cards import service as cards
from kuota.cards.models import Card, CardStatus
from kuota.cards.rules import mask_msisdn
from kuota.catalog import service as catalog
from kuota.catalog.models import PlanVersion, Promotion
from kuota.catalog.rules import PromotionTerms, Quote, check_eligible, quote
from kuota.core.context import Context
from kuota.core.db import run, table_of
from kuota.core.errors import (
    Conflict,
    Forbidden,
    InsufficientFunds,
    NotFound,
    PaymentMethodUnavailable,
)
from kuota.core.ids import new_id
from kuota.core.localtime import format_local
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.ledger.rules import Posting
from kuota.notify import service as outbox
from kuota.notify.templates import render
from kuota.payments import service as payments
from kuota.payments.gateway import GATEWAY_METHODS
from kuota.payments.models import Payment, PaymentStatus
from kuota.receipts.rules import new_receipt_no, receipt_code, verify_url
from kuota.renewals.models import Channel, Renewal, RenewalStatus
from kuota.retail import service as retail
from kuota.usage import service as usage
from kuota.usage.models import Package

CHANNEL_METHODS: dict[Channel, frozenset[str]] = {
    Channel.ONLINE: frozenset({"balance", "card", "qris", "ewallet"}),
    Channel.RETAIL: frozenset({"retail_float"}),
    Channel.KIOSK: frozenset({"kiosk_card", "qris"}),
    Channel.AUTO: frozenset({"balance"}),
}


@dataclass(frozen=True, slots=True)
class RenewalRequest:
    msisdn: str
    plan_code: str
    payment_method: str
    promo_code: str | None = None
    identity_nik: str | None = None  # at a store: the NIK on the customer's identity card


# The sale path runs these on every renewal: built once, not per call.
_NEW_RENEWAL = insert(table_of(Renewal))
_MARK_FULFILLED = (
    update(Renewal)
    .where(Renewal.id == bindparam("w_id"), Renewal.status == RenewalStatus.PENDING_PAYMENT)
    .values(
        status=RenewalStatus.FULFILLED,
        receipt_no=bindparam("receipt_no"),
        package_id=bindparam("package_id"),
        fulfilled_at=bindparam("fulfilled_at"),
    )
    .execution_options(synchronize_session=False)
)
_OWNER_CONTACT = select(User.email, User.locale).where(User.id == bindparam("user_id"))


def channel_of(principal: Principal) -> Channel:
    if principal.kind == "auto_renewal":
        return Channel.AUTO
    if principal.is_kiosk:
        return Channel.KIOSK
    if principal.is_retail:
        return Channel.RETAIL
    return Channel.ONLINE


def price_of(
    session: Session, plan_code: str, promo_code: str | None, *, channel: Channel, now: datetime
) -> tuple[PlanVersion, int | None, PromotionTerms | None, Quote]:
    """The plan on sale, the promotion that applies (checked), and the exact total: what a
    sale charges and what a page shows before the buyer pays."""
    plan = catalog.current_plan(session, plan_code)
    price = Money(plan.price_amount, plan.currency)
    promotion_id: int | None = None
    terms = None
    if promo_code:
        promotion_id, terms = catalog.promotion_by_code(session, promo_code)
        check_eligible(terms, plan_code=plan.code, channel=channel, now=now)
    return plan, promotion_id, terms, quote(price, terms)


def renew(
    session: Session,
    ctx: Context,
    principal: Principal,
    request: RenewalRequest,
    *,
    gateway_methods: frozenset[str] = frozenset(),
    gateway_name: str = "gateway",
    payment_ttl: timedelta = timedelta(minutes=15),
    auto_renewal: bool = False,
) -> dict[str, Any]:
    """Sell one plan to one card. Paid from the main balance it is fulfilled at once;
    through a gateway it waits, `pending_payment`, for `fulfil_paid`. The lifecycle
    worker renews on the owner's behalf with `auto_renewal`: the auto-renewal channel,
    main balance only."""
    now = ctx.clock.now()
    channel = Channel.AUTO if auto_renewal else channel_of(principal)
    store = retail.store_of(session, principal) if channel is Channel.RETAIL else None
    card = cards.card_for(session, principal, request.msisdn, lock=True)
    # Online the buyer owns the card; at a store or a kiosk the buyer holds it, in person.
    if channel in (Channel.ONLINE, Channel.AUTO) and not (
        principal.is_subscriber and card.owner_user_id == principal.id
    ):
        if principal.is_operator:
            raise Forbidden(
                "operator staff do not buy for subscribers; credit the main balance with a "
                "balance adjustment instead"
            )
        raise NotFound(f"no card {card.msisdn} that you may see")
    if card.status == CardStatus.TERMINATED:
        raise Conflict(f"card {card.msisdn} is terminated and cannot be renewed")
    allowed = CHANNEL_METHODS[channel]
    if request.payment_method not in allowed:
        raise PaymentMethodUnavailable(
            f"payment method {request.payment_method!r} is not accepted through the "
            f"{channel} channel; use one of: {', '.join(sorted(allowed))}",
            field="payment_method",
        )
    if request.payment_method in GATEWAY_METHODS and request.payment_method not in gateway_methods:
        raise PaymentMethodUnavailable(
            f"payment method {request.payment_method!r} is not available: no payment gateway "
            "is configured for it; pay from the main balance",
            field="payment_method",
        )
    if store is not None:
        retail.check_identity(session, ctx, card, request.identity_nik)
    plan, promotion_id, terms, priced = price_of(
        session, request.plan_code, request.promo_code, channel=channel, now=now
    )
    if promotion_id is not None and terms is not None:
        catalog.redeem(session, promotion_id=promotion_id, card_id=card.id, code=terms.code)

    renewal_id = new_id("rnw")
    paid_now = request.payment_method in ("balance", "retail_float")
    commission = Money.zero(priced.total.currency)
    if request.payment_method == "balance":
        _pay_from_balance(session, ctx, card, renewal_id, plan, priced.total, priced.discount, now)
    elif store is not None:
        commission = retail.pay_from_float(session, ctx, store, card, renewal_id, plan, priced, now)
    if paid_now:
        payment_status = PaymentStatus.SUCCEEDED
        provider = request.payment_method
    else:
        payment_status = PaymentStatus.PENDING
        provider = gateway_name
    payment_id = payments.record_payment(
        session,
        card_id=card.id,
        method=request.payment_method,
        provider=provider,
        amount=priced.total,
        status=payment_status,
        now=now,
        expires_at=None if paid_now else now + payment_ttl,
        actor=f"{principal.scope}:{principal.name}",
    )
    values: dict[str, Any] = {
        "id": renewal_id,
        "card_id": card.id,
        "plan_version_id": plan.id,
        "channel": channel,
        "payment_method": request.payment_method,
        "payment_id": payment_id,
        "promotion_id": promotion_id,
        "list_price": priced.list_price.amount,
        "discount": priced.discount.amount,
        "total": priced.total.amount,
        "currency": priced.total.currency,
        "bonus_bytes": priced.bonus_bytes,
        "status": RenewalStatus.PENDING_PAYMENT,
        "receipt_no": None,
        "package_id": None,
        "actor": f"{principal.scope}:{principal.name}",
        "store_id": store.id if store is not None else None,
        "kiosk_id": principal.id if channel is Channel.KIOSK else None,
        "commission": commission.amount,
        "failure_reason": None,
        "created_at": now,
        "fulfilled_at": None,
    }
    package = None
    if paid_now:
        # Paid already: the renewal is written once, fulfilled.
        package = _land_package(session, card.id, plan, priced.bonus_bytes, now)
        values.update(
            status=RenewalStatus.FULFILLED,
            receipt_no=new_receipt_no(now),
            package_id=package["id"],
            fulfilled_at=now,
        )
    run(session, _NEW_RENEWAL, values)
    renewal = Renewal(**values)  # for the answer only; the row is written above
    if package is not None:
        _queue_confirmations(session, ctx, renewal, card, plan, package["expires_at"], now)
    payment = {
        "id": payment_id,
        "method": request.payment_method,
        "provider": provider,
        "status": payment_status,
        "amount": priced.total.as_json(),
        "next_action": None,
        "expires_at": None if paid_now else now + payment_ttl,
    }
    return renewal_view(renewal, card, plan, payment, package, terms.code if terms else None)


def _pay_from_balance(
    session: Session,
    ctx: Context,
    card: Card,
    renewal_id: str,
    plan: PlanVersion,
    total: Money,
    discount: Money,
    now: datetime,
) -> None:
    """Debit the card's main balance; revenue is the list price, the discount an expense."""
    account, currency = ledger.card_account(session, card.id)
    if currency != total.currency:
        raise PaymentMethodUnavailable(
            f"{plan.code} is priced in {total.currency} but the main balance of {card.msisdn} "
            f"is kept in {currency}; pay by another method",
            field="payment_method",
        )
    postings = [
        Posting(
            ledger.house_account_id(session, ctx, "revenue", currency),
            -(total.amount + discount.amount),
            currency,
        )
    ]
    if total.amount:
        postings.append(Posting(account, total.amount, currency))
    if discount.amount:
        postings.append(
            Posting(
                ledger.house_account_id(session, ctx, "promotion_expense", currency),
                discount.amount,
                currency,
            )
        )
    try:
        ledger.post(
            session,
            kind="renewal",
            reference=renewal_id,
            memo=f"{plan.code} for {card.msisdn}",
            postings=postings,
            guarded=[ledger.GuardedMove(account, -total.amount)] if total.amount else [],
            now=now,
        )
    except InsufficientFunds as exc:
        balance = ledger.card_balance(session, card.id)
        raise InsufficientFunds(
            f"the main balance of {card.msisdn} is {balance.format()}, less than the "
            f"{total.format()} this renewal costs; top up or choose another payment method",
            balance=balance.as_json(),
            required=total.as_json(),
        ) from exc


def _land_package(
    session: Session, card_id: int, plan: PlanVersion, bonus_bytes: int, now: datetime
) -> dict[str, Any]:
    return usage.add_purchase(
        session,
        card_id=card_id,
        plan_code=plan.code,
        plan_version_id=plan.id,
        data_bytes=plan.data_bytes + bonus_bytes,
        validity_days=plan.validity_days,
        now=now,
    )


def _fulfil(
    session: Session, ctx: Context, renewal: Renewal, card: Card, plan: PlanVersion, now: datetime
) -> dict[str, Any]:
    """Paid later: land the quota, number the receipt, queue the confirmations. Exactly
    once: the status moves from pending_payment only in the update that wins."""
    package = _land_package(session, card.id, plan, renewal.bonus_bytes, now)
    receipt_no = new_receipt_no(now)
    moved = run(
        session,
        _MARK_FULFILLED,
        {
            "w_id": renewal.id,
            "receipt_no": receipt_no,
            "package_id": package["id"],
            "fulfilled_at": now,
        },
    )
    if moved.rowcount != 1:
        raise Conflict(f"renewal {renewal.id} was already fulfilled")
    renewal.status = RenewalStatus.FULFILLED
    renewal.receipt_no = receipt_no
    renewal.package_id = package["id"]
    renewal.fulfilled_at = now
    _queue_confirmations(session, ctx, renewal, card, plan, package["expires_at"], now)
    return package


def _queue_confirmations(
    session: Session,
    ctx: Context,
    renewal: Renewal,
    card: Card,
    plan: PlanVersion,
    expires_at: datetime,
    now: datetime,
) -> None:
    owner = None
    if card.owner_user_id is not None:
        owner = run(session, _OWNER_CONTACT, {"user_id": card.owner_user_id}).one_or_none()
    locale = owner.locale if owner else "id"
    assert renewal.receipt_no is not None
    code = receipt_code(renewal.receipt_no, ctx.secret_key)
    subject, body = render(
        "renewal_fulfilled",
        locale,
        plan_name=plan.name,
        msisdn=card.msisdn,
        total=Money(renewal.total, renewal.currency).format(),
        expires_at=format_local(expires_at, ctx.settings.operator_timezone),
        receipt_no=renewal.receipt_no,
        verify_url=verify_url(ctx.settings.public_url, renewal.receipt_no, code),
    )
    recipients = [("sms", card.msisdn)]
    if owner is not None and owner.email:
        recipients.append(("email", owner.email))
    outbox.enqueue_many(session, recipients, subject=subject, body=body, now=now)


class CannotFulfil(Conflict):
    """Paid, but the sale cannot be delivered any more: the money goes back."""


def fulfil_paid(session: Session, ctx: Context, payment: Payment) -> dict[str, Any]:
    """A gateway payment has just moved to succeeded: book it and fulfil its renewal.

    The caller moved the payment in this transaction, by a conditional update only one
    caller wins, so this runs once per payment. Raises `CannotFulfil` when the card was
    terminated or the renewal is no longer waiting; the caller then refunds."""
    now = ctx.clock.now()
    renewal = session.execute(
        select(Renewal).where(Renewal.payment_id == payment.id)
    ).scalar_one_or_none()
    if renewal is None:
        raise CannotFulfil(f"no renewal is waiting for payment {payment.id}")
    card = session.execute(
        select(Card).where(Card.id == renewal.card_id).with_for_update()
    ).scalar_one()
    if card.status == CardStatus.TERMINATED:
        raise CannotFulfil(f"card {card.msisdn} was terminated before the payment arrived")
    if renewal.status == RenewalStatus.FULFILLED:
        raise CannotFulfil(f"renewal {renewal.id} was already fulfilled")
    plan = session.execute(
        select(PlanVersion).where(PlanVersion.id == renewal.plan_version_id)
    ).scalar_one()
    if not catalog.is_on_sale(session, plan.code):
        raise CannotFulfil(f"plan {plan.code} was withdrawn before the payment arrived")
    total = Money(renewal.total, renewal.currency)
    currency = renewal.currency
    postings = [
        Posting(
            ledger.house_account_id(session, ctx, f"clearing:{payment.provider}", currency),
            total.amount,
            currency,
        ),
        Posting(
            ledger.house_account_id(session, ctx, "revenue", currency),
            -(total.amount + renewal.discount),
            currency,
        ),
    ]
    if renewal.discount:
        postings.append(
            Posting(
                ledger.house_account_id(session, ctx, "promotion_expense", currency),
                renewal.discount,
                currency,
            )
        )
    if renewal.status == RenewalStatus.FAILED:
        # Paid after we had given up on it (success after expiry): it is sold after all.
        session.execute(
            update(Renewal)
            .where(Renewal.id == renewal.id)
            .values(status=RenewalStatus.PENDING_PAYMENT, failure_reason=None)
            .execution_options(synchronize_session=False)
        )
        renewal.status = RenewalStatus.PENDING_PAYMENT
        if renewal.promotion_id is not None:
            catalog.count_late_redemption(
                session, promotion_id=renewal.promotion_id, card_id=card.id
            )
    ledger.post(
        session,
        kind="renewal",
        reference=renewal.id,
        memo=f"{plan.code} for {card.msisdn}",
        postings=postings,
        guarded=[],
        now=now,
    )
    package = _fulfil(session, ctx, renewal, card, plan, now)
    return renewal_view(
        renewal,
        card,
        plan,
        payments.payment_view(payment),
        package,
        _promo_code(session, renewal.promotion_id),
    )


def fail_unpaid(session: Session, payment: Payment, reason: str) -> None:
    """The payment failed or expired: the renewal fails and gives its promotion use back."""
    renewal = session.execute(
        select(Renewal).where(Renewal.payment_id == payment.id)
    ).scalar_one_or_none()
    if renewal is None or renewal.status != RenewalStatus.PENDING_PAYMENT:
        return
    session.execute(
        update(Renewal)
        .where(Renewal.id == renewal.id, Renewal.status == RenewalStatus.PENDING_PAYMENT)
        .values(status=RenewalStatus.FAILED, failure_reason=reason[:240])
        .execution_options(synchronize_session=False)
    )
    if renewal.promotion_id is not None:
        catalog.release(session, promotion_id=renewal.promotion_id, card_id=renewal.card_id)


def view_for_payment(session: Session, payment_id: str) -> dict[str, Any]:
    """The renewal a payment pays for, as its buyer sees it."""
    renewal_id = session.execute(
        select(Renewal.id).where(Renewal.payment_id == payment_id)
    ).scalar_one()
    return _view(session, renewal_id)


def get_renewal(session: Session, principal: Principal, renewal_id: str) -> dict[str, Any]:
    """For the card's owner and operator staff in full; for the kiosk or the store that
    sold it (the retailer's owner too) with the number masked; 404 for anyone else."""
    row = session.execute(
        select(Renewal.card_id, Renewal.kiosk_id, Renewal.store_id).where(Renewal.id == renewal_id)
    ).one_or_none()
    card = session.get(Card, row.card_id) if row is not None else None
    if row is None or card is None:
        raise NotFound(f"no renewal {renewal_id} that you may see")
    if cards.sees_in_full(principal, card):
        return _view(session, renewal_id)
    sold_here = (principal.is_kiosk and row.kiosk_id == principal.id) or (
        principal.is_retail
        and row.store_id is not None
        and retail.sold_by(session, principal, row.store_id)
    )
    if not sold_here:
        raise NotFound(f"no renewal {renewal_id} that you may see")
    view = _view(session, renewal_id)
    view["msisdn"] = mask_msisdn(card.msisdn)
    return view


def _view(session: Session, renewal_id: str) -> dict[str, Any]:
    renewal = session.execute(select(Renewal).where(Renewal.id == renewal_id)).scalar_one()
    card = session.execute(select(Card).where(Card.id == renewal.card_id)).scalar_one()
    plan = session.execute(
        select(PlanVersion).where(PlanVersion.id == renewal.plan_version_id)
    ).scalar_one()
    payment = session.execute(select(Payment).where(Payment.id == renewal.payment_id)).scalar_one()
    package = None
    if renewal.package_id is not None:
        package = usage.package_view(
            session.execute(select(Package).where(Package.id == renewal.package_id)).scalar_one()
        )
    return renewal_view(
        renewal,
        card,
        plan,
        payments.payment_view(payment),
        package,
        _promo_code(session, renewal.promotion_id),
    )


def history(
    session: Session, principal: Principal, msisdn: str, *, limit: int, before: datetime | None
) -> list[dict[str, Any]]:
    """A card's renewals, newest first, for its owner or operator staff."""
    card = cards.card_for(session, principal, msisdn)
    if not cards.sees_in_full(principal, card):
        raise NotFound(f"no card {card.msisdn} that you may see")
    query = (
        select(Renewal, PlanVersion, Payment, Promotion.code)
        .join(PlanVersion, PlanVersion.id == Renewal.plan_version_id)
        .join(Payment, Payment.id == Renewal.payment_id)
        .outerjoin(Promotion, Promotion.id == Renewal.promotion_id)
        .where(Renewal.card_id == card.id)
    )
    if before is not None:
        query = query.where(Renewal.created_at < before)
    rows = session.execute(
        query.order_by(Renewal.created_at.desc(), Renewal.id.desc()).limit(limit)
    ).all()
    package_ids = {r.Renewal.package_id for r in rows if r.Renewal.package_id is not None}
    packages = (
        {
            p.id: usage.package_view(p)
            for p in session.execute(select(Package).where(Package.id.in_(package_ids))).scalars()
        }
        if package_ids
        else {}
    )
    return [
        renewal_view(
            r.Renewal,
            card,
            r.PlanVersion,
            payments.payment_view(r.Payment),
            packages.get(r.Renewal.package_id or -1),
            r.code,
        )
        for r in rows
    ]


def _promo_code(session: Session, promotion_id: int | None) -> str | None:
    if promotion_id is None:
        return None
    return session.execute(select(Promotion.code).where(Promotion.id == promotion_id)).scalar_one()


def renewal_view(
    renewal: Renewal,
    card: Card,
    plan: PlanVersion,
    payment: dict[str, Any],
    package: dict[str, Any] | None,
    promo_code: str | None,
) -> dict[str, Any]:
    currency = renewal.currency
    return {
        "id": renewal.id,
        "status": renewal.status,
        "msisdn": card.msisdn,
        "plan_code": plan.code,
        "plan_version": plan.version,
        "channel": renewal.channel,
        "list_price": {"amount": renewal.list_price, "currency": currency},
        "discount": {"amount": renewal.discount, "currency": currency},
        "total": {"amount": renewal.total, "currency": currency},
        "bonus_bytes": renewal.bonus_bytes,
        "promo_code": promo_code,
        "receipt_no": renewal.receipt_no,
        "payment": payment,
        "package": package,
        "created_at": renewal.created_at,
        "fulfilled_at": renewal.fulfilled_at,
    }
