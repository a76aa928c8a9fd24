"""Recording payments. Gateway payments and their state machine build on this."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from kuota.core.db import run, table_of
from kuota.core.ids import new_id
from kuota.core.money import Money
from kuota.payments.models import Payment, PaymentStatus

_NEW_PAYMENT = insert(table_of(Payment))


def record_payment(
    session: Session,
    *,
    card_id: int,
    method: str,
    provider: str,
    amount: Money,
    status: PaymentStatus,
    now: datetime,
) -> str:
    payment_id = new_id("pay")
    run(
        session,
        _NEW_PAYMENT,
        {
            "id": payment_id,
            "card_id": card_id,
            "method": method,
            "provider": provider,
            "status": status,
            "amount": amount.amount,
            "currency": amount.currency,
            "provider_reference": None,
            "created_at": now,
            "updated_at": now,
        },
    )
    return payment_id


def mark_succeeded(
    session: Session, *, payment_id: str, provider_reference: str | None, now: datetime
) -> bool:
    """Move a pending (or unknown) payment to succeeded; False when it already moved on."""
    moved = session.execute(
        update(Payment)
        .where(
            Payment.id == payment_id,
            Payment.status.in_([PaymentStatus.PENDING, PaymentStatus.UNKNOWN]),
        )
        .values(
            status=PaymentStatus.SUCCEEDED, provider_reference=provider_reference, updated_at=now
        )
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]
