"""Recording payments and moving them through their state machine, every move recorded.

Gateways are never called from here: these functions run inside the caller's
transaction, before or after the gateway call that the edge makes between them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from kuota.cards import service as cards
from kuota.cards.models import Card
from kuota.core.db import insert_for, run, table_of
from kuota.core.errors import NotFound
from kuota.core.ids import new_id
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.payments.models import (
    Payment,
    PaymentEvent,
    PaymentPurpose,
    PaymentStatus,
    WebhookReceipt,
)
from kuota.payments.reconcile import KuotaPayment
from kuota.payments.rules import can_move

_NEW_PAYMENT = insert(table_of(Payment))
_NEW_EVENT = insert(table_of(PaymentEvent))


def record_payment(
    session: Session,
    *,
    card_id: int,
    method: str,
    provider: str,
    amount: Money,
    status: PaymentStatus,
    now: datetime,
    purpose: PaymentPurpose = PaymentPurpose.RENEWAL,
    expires_at: datetime | None = None,
    actor: str = "kuota",
) -> str:
    """A new payment; a gateway payment starts `pending` and is asked about from
    `next_check_at` on, so one whose webhook never comes is still settled."""
    payment_id = new_id("pay")
    run(
        session,
        _NEW_PAYMENT,
        {
            "id": payment_id,
            "card_id": card_id,
            "purpose": purpose,
            "method": method,
            "provider": provider,
            "status": status,
            "amount": amount.amount,
            "currency": amount.currency,
            "provider_reference": None,
            "checkout_url": None,
            "qr_payload": None,
            "expires_at": expires_at,
            "next_check_at": expires_at if status is PaymentStatus.PENDING else None,
            "check_attempts": 0,
            "refund_due": False,
            "refund_reference": None,
            "created_at": now,
            "updated_at": now,
        },
    )
    run(
        session,
        _NEW_EVENT,
        {
            "payment_id": payment_id,
            "from_status": None,
            "to_status": status,
            "actor": actor,
            "detail": {"method": method, "provider": provider, "amount": amount.as_json()},
            "created_at": now,
        },
    )
    return payment_id


def move(
    session: Session,
    payment: Payment,
    to: PaymentStatus,
    *,
    actor: str,
    detail: dict[str, Any],
    now: datetime,
    **values: Any,
) -> bool:
    """Move a payment to `to` if it is still where the caller read it and the state machine
    allows it; record who moved it and what the gateway said. False when it had moved on."""
    current = PaymentStatus(payment.status)
    if not can_move(current, to):
        return False
    moved = session.execute(
        update(Payment)
        .where(Payment.id == payment.id, Payment.status == current)
        .values(status=to, updated_at=now, **values)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    payment.status = to
    for name, value in values.items():
        setattr(payment, name, value)
    run(
        session,
        _NEW_EVENT,
        {
            "payment_id": payment.id,
            "from_status": current,
            "to_status": to,
            "actor": actor,
            "detail": detail,
            "created_at": now,
        },
    )
    return True


def note(
    session: Session, payment: Payment, *, actor: str, detail: dict[str, Any], now: datetime
) -> None:
    """Record what was heard about a payment without moving it (a stale or repeated word)."""
    run(
        session,
        _NEW_EVENT,
        {
            "payment_id": payment.id,
            "from_status": payment.status,
            "to_status": payment.status,
            "actor": actor,
            "detail": detail,
            "created_at": now,
        },
    )


def locked(session: Session, payment_id: str) -> Payment | None:
    """The payment, row-locked on PostgreSQL (SQLite writers are serial anyway)."""
    return session.execute(
        select(Payment).where(Payment.id == payment_id).with_for_update()
    ).scalar_one_or_none()


def record_next_action(
    session: Session,
    payment: Payment,
    *,
    checkout_url: str | None,
    qr_payload: str | None,
    provider_reference: str | None,
    now: datetime,
) -> None:
    """What the gateway asked the payer to do. Written whatever the status: a webhook that
    overtook this answer may already have settled the payment."""
    session.execute(
        update(Payment)
        .where(Payment.id == payment.id)
        .values(
            checkout_url=checkout_url,
            qr_payload=qr_payload,
            provider_reference=payment.provider_reference or provider_reference,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    payment.checkout_url = checkout_url
    payment.qr_payload = qr_payload
    payment.provider_reference = payment.provider_reference or provider_reference


def schedule_check(session: Session, payment: Payment, *, at: datetime) -> None:
    session.execute(
        update(Payment)
        .where(Payment.id == payment.id)
        .values(next_check_at=at, check_attempts=Payment.check_attempts + 1)
        .execution_options(synchronize_session=False)
    )


def check_backoff(attempts: int) -> timedelta:
    """How long the reconciling job waits before asking about a payment again."""
    return timedelta(seconds=min(15 * 2 ** min(attempts, 10), 3600))


def due_for_check(session: Session, now: datetime, limit: int, *, skip_locked: bool) -> list[str]:
    """Open payments (pending past their expiry, or unknown) whose next question is due."""
    query = (
        select(Payment.id)
        .where(
            Payment.status.in_([PaymentStatus.PENDING, PaymentStatus.UNKNOWN]),
            Payment.next_check_at <= now,
        )
        .order_by(Payment.next_check_at)
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return list(session.execute(query).scalars())


def refunds_due(session: Session, now: datetime, limit: int) -> list[str]:
    """Payments owed back whose next attempt is due, oldest attempt first (a refund the
    gateway keeps refusing waits longer each time, and never blocks the others)."""
    return list(
        session.execute(
            select(Payment.id)
            .where(
                Payment.refund_due.is_(True),
                Payment.status == PaymentStatus.SUCCEEDED,
                (Payment.next_check_at.is_(None)) | (Payment.next_check_at <= now),
            )
            .order_by(Payment.next_check_at.is_not(None), Payment.next_check_at)
            .limit(limit)
        ).scalars()
    )


def payment_view(payment: Payment) -> dict[str, Any]:
    next_action: dict[str, Any] | None = None
    if payment.status in (PaymentStatus.PENDING, PaymentStatus.UNKNOWN):
        if payment.qr_payload:
            next_action = {"kind": "qr", "qr_payload": payment.qr_payload}
        elif payment.method == "kiosk_card":
            # The kiosk's card terminal takes the card; `url` is the sandbox terminal's page.
            next_action = {"kind": "terminal", "url": payment.checkout_url}
        elif payment.checkout_url:
            next_action = {"kind": "redirect", "url": payment.checkout_url}
    return {
        "id": payment.id,
        "method": payment.method,
        "provider": payment.provider,
        "status": payment.status,
        "amount": {"amount": payment.amount, "currency": payment.currency},
        "next_action": next_action,
        "expires_at": payment.expires_at,
    }


def mark_refund_due(session: Session, payment: Payment, *, reason: str, now: datetime) -> None:
    session.execute(
        update(Payment)
        .where(Payment.id == payment.id)
        .values(refund_due=True, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    payment.refund_due = True
    note(session, payment, actor="kuota", detail={"refund_due": reason}, now=now)


def refund_settled(session: Session, payment: Payment, *, reference: str, now: datetime) -> None:
    session.execute(
        update(Payment)
        .where(Payment.id == payment.id)
        .values(refund_due=False, refund_reference=reference, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    payment.refund_due = False
    payment.refund_reference = reference


def webhook_seen(session: Session, provider: str, event_id: str) -> bool:
    return (
        session.execute(
            select(WebhookReceipt.event_id).where(
                WebhookReceipt.provider == provider, WebhookReceipt.event_id == event_id
            )
        ).first()
        is not None
    )


def claim_webhook(session: Session, provider: str, event_id: str, now: datetime) -> bool:
    """Remember a notification id; False when it was already acted on."""
    claim = insert_for(session.get_bind().dialect.name)(WebhookReceipt)
    inserted = session.execute(
        claim.values(provider=provider, event_id=event_id, received_at=now)
        .on_conflict_do_nothing(index_elements=["provider", "event_id"])
        .returning(WebhookReceipt.event_id)
    ).first()
    return inserted is not None


def view_for(session: Session, principal: Principal, payment_id: str) -> dict[str, Any]:
    payment = session.get(Payment, payment_id)
    card = session.get(Card, payment.card_id) if payment is not None else None
    if payment is None or card is None or not cards.sees_in_full(principal, card):
        raise NotFound(f"no payment {payment_id} that you may see")
    return payment_view(payment)


def for_reconciliation(
    session: Session, *, provider: str, order_ids: set[str], since: datetime, until: datetime
) -> list[KuotaPayment]:
    """The payments a settlement report should account for: every order it names, and
    every payment of that gateway that took money in the report's period."""
    named = select(Payment).where(Payment.id.in_(order_ids)) if order_ids else None
    period = select(Payment).where(
        Payment.provider == provider,
        Payment.status.in_([PaymentStatus.SUCCEEDED, PaymentStatus.REFUNDED]),
        Payment.updated_at >= since,
        Payment.updated_at < until,
    )
    found: dict[str, Payment] = {p.id: p for p in session.execute(period).scalars()}
    if named is not None:
        found.update({p.id: p for p in session.execute(named).scalars()})
    return [
        KuotaPayment(
            payment_id=p.id,
            provider_reference=p.provider_reference,
            amount=Money(p.amount, p.currency),
            status=p.status,
        )
        for p in sorted(found.values(), key=lambda p: p.id)
    ]
