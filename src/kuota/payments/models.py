"""Payments: one row per attempt to collect money, with every change of state recorded."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kuota.core.db import Base, BigId, UTCDateTime


class PaymentStatus(StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"
    UNKNOWN = "unknown"


class PaymentPurpose(StrEnum):
    RENEWAL = "renewal"
    TOP_UP = "top_up"


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (Index("ix_payments_status_check", "status", "next_check_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(10), default=PaymentPurpose.RENEWAL)
    method: Mapped[str] = mapped_column(String(20))
    provider: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(12))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    provider_reference: Mapped[str | None] = mapped_column(String(80))
    # What the payer must do next, as the gateway said it.
    checkout_url: Mapped[str | None] = mapped_column(String(500))
    qr_payload: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The reconciling job asks the gateway about pending / unknown payments from then on.
    next_check_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_attempts: Mapped[int] = mapped_column(default=0)
    # Paid but impossible to fulfil (plan withdrawn, card terminated): money goes back.
    refund_due: Mapped[bool] = mapped_column(default=False)
    refund_reference: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentEvent(Base):
    """Every transition of a payment: who moved it, when, and what the gateway said."""

    __tablename__ = "payment_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str] = mapped_column(String(12))
    actor: Mapped[str] = mapped_column(String(80))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookReceipt(Base):
    """A notification id already acted on: a duplicate delivery is ignored."""

    __tablename__ = "webhook_receipts"

    provider: Mapped[str] = mapped_column(String(20), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TopUp(Base):
    """Money added to a card's main balance through a gateway."""

    __tablename__ = "top_ups"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), unique=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # pending_payment | credited | failed
    actor: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    credited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SandboxOrder(Base):
    """The sandbox gateway's own books: what a real gateway keeps on its side."""

    __tablename__ = "sandbox_orders"

    order_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    transaction_id: Mapped[str] = mapped_column(String(40), unique=True)
    method: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(12))
    return_url: Mapped[str] = mapped_column(String(500))
    qr_payload: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxWebhook(Base):
    """A notification the sandbox will deliver at `deliver_at` (late, twice, out of order)."""

    __tablename__ = "sandbox_webhooks"
    __table_args__ = (Index("ix_sandbox_webhooks_due", "delivered_at", "deliver_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(40), index=True)
    event_id: Mapped[str] = mapped_column(String(60))
    payload: Mapped[str] = mapped_column(Text)
    deliver_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(300))
