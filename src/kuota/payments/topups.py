"""Top-ups: money added to a card's main balance, paid through a gateway."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from kuota.auth.models import User
from kuota.cards import service as cards
from kuota.cards.models import Card, CardStatus
from kuota.core.context import Context
from kuota.core.errors import Conflict, InvalidInput, NotFound, PaymentMethodUnavailable
from kuota.core.ids import new_id
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.notify import service as outbox
from kuota.notify.templates import render
from kuota.payments import service as payments
from kuota.payments.models import Payment, PaymentPurpose, PaymentStatus, TopUp

MIN_TOP_UP = 1_000_00  # Rp 1.000
MAX_TOP_UP = 10_000_000_00  # Rp 10.000.000


def start_top_up(
    session: Session,
    ctx: Context,
    principal: Principal,
    *,
    msisdn: str,
    amount: Money,
    payment_method: str,
    gateway_name: str | None,
    gateway_methods: frozenset[str],
) -> dict[str, Any]:
    """Record a top-up and its pending gateway payment; the balance grows when it is paid."""
    now = ctx.clock.now()
    card = cards.card_for(session, principal, msisdn, lock=True)
    if not (principal.is_subscriber and card.owner_user_id == principal.id):
        raise NotFound(f"no card {card.msisdn} that you may see")
    if card.status == CardStatus.TERMINATED:
        raise Conflict(f"card {card.msisdn} is terminated and cannot be topped up")
    _, currency = ledger.card_account(session, card.id)
    if amount.currency != currency:
        raise InvalidInput(
            f"card {card.msisdn} keeps its balance in {currency}", field="amount.currency"
        )
    if not amount.is_whole_charge_unit() or not MIN_TOP_UP <= amount.amount <= MAX_TOP_UP:
        raise InvalidInput(
            f"a top-up is whole rupiah between {Money(MIN_TOP_UP, currency).format()} and "
            f"{Money(MAX_TOP_UP, currency).format()}",
            field="amount.amount",
        )
    if gateway_name is None or payment_method not in gateway_methods:
        raise PaymentMethodUnavailable(
            f"payment method {payment_method!r} is not available for top-ups; use one of: "
            + (", ".join(sorted(gateway_methods)) or "none configured"),
            field="payment_method",
        )
    payment_id = payments.record_payment(
        session,
        card_id=card.id,
        method=payment_method,
        provider=gateway_name,
        amount=amount,
        status=PaymentStatus.PENDING,
        now=now,
        purpose=PaymentPurpose.TOP_UP,
        expires_at=now + timedelta(seconds=ctx.settings.payment_ttl_seconds),
        actor=f"{principal.scope}:{principal.name}",
    )
    top_up_id = new_id("top")
    session.execute(
        insert(TopUp).values(
            id=top_up_id,
            card_id=card.id,
            payment_id=payment_id,
            amount=amount.amount,
            currency=amount.currency,
            status="pending_payment",
            actor=f"{principal.scope}:{principal.name}",
            created_at=now,
            credited_at=None,
        )
    )
    return view_for_payment(session, payment_id)


def credit_paid(session: Session, ctx: Context, payment: Payment) -> None:
    """The top-up's payment succeeded: the main balance grows, exactly once."""
    now = ctx.clock.now()
    top_up = session.execute(select(TopUp).where(TopUp.payment_id == payment.id)).scalar_one()
    card = session.execute(
        select(Card).where(Card.id == top_up.card_id).with_for_update()
    ).scalar_one()
    if card.status == CardStatus.TERMINATED:
        raise Conflict(f"card {card.msisdn} was terminated before the top-up was paid")
    moved = session.execute(
        update(TopUp)
        .where(TopUp.id == top_up.id, TopUp.status != "credited")
        .values(status="credited", credited_at=now)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        raise Conflict(f"top-up {top_up.id} was already credited")
    amount = Money(top_up.amount, top_up.currency)
    ledger.move_guarded(
        session,
        ctx,
        account_id=ledger.card_account_id(session, card.id),
        amount=amount,
        house=f"clearing:{payment.provider}",
        kind="top_up",
        reference=top_up.id,
        memo=f"top-up of {card.msisdn}",
    )
    balance = ledger.card_balance(session, card.id)
    owner = None
    if card.owner_user_id is not None:
        owner = session.execute(
            select(User.email, User.locale).where(User.id == card.owner_user_id)
        ).one_or_none()
    subject, body = render(
        "top_up_credited",
        owner.locale if owner else "id",
        msisdn=card.msisdn,
        amount=amount.format(),
        balance=balance.format(),
    )
    recipients = [("sms", card.msisdn)]
    if owner is not None and owner.email:
        recipients.append(("email", owner.email))
    outbox.enqueue_many(session, recipients, subject=subject, body=body, now=now)


def fail_unpaid(session: Session, payment: Payment) -> None:
    session.execute(
        update(TopUp)
        .where(TopUp.payment_id == payment.id, TopUp.status == "pending_payment")
        .values(status="failed")
        .execution_options(synchronize_session=False)
    )


def view_for_payment(session: Session, payment_id: str) -> dict[str, Any]:
    top_up = session.execute(select(TopUp).where(TopUp.payment_id == payment_id)).scalar_one()
    payment = session.get_one(Payment, payment_id)
    msisdn = session.execute(select(Card.msisdn).where(Card.id == top_up.card_id)).scalar_one()
    return {
        "id": top_up.id,
        "msisdn": msisdn,
        "status": top_up.status,
        "amount": {"amount": top_up.amount, "currency": top_up.currency},
        "payment": payments.payment_view(payment),
        "created_at": top_up.created_at,
        "credited_at": top_up.credited_at,
    }
