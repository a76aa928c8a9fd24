"""Authorised retailers and their stores. Selling at a store comes with the retail channel."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kuota.core.db import Base, BigId, UTCDateTime


class Retailer(Base):
    __tablename__ = "retailers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    commission_basis_points: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    retailer_id: Mapped[int] = mapped_column(ForeignKey("retailers.id"), index=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    city: Mapped[str] = mapped_column(String(80))
    address: Mapped[str] = mapped_column(String(240), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    # Opening hours in the operator's zone: ISO weekdays open ("1234567" = every day)
    # and the times, "08:00"-"21:00"; closes_at "24:00" means until midnight.
    open_days: Mapped[str] = mapped_column(String(7), default="1234567")
    opens_at: Mapped[str] = mapped_column(String(5), default="08:00")
    closes_at: Mapped[str] = mapped_column(String(5), default="21:00")
    # Where its receipts print: "network:HOST:PORT", "usb:VID:PID", "file:PATH" or "".
    printer: Mapped[str] = mapped_column(String(200), default="")
    is_authorised: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RetailerCommission(Base):
    """A retailer's commission on one plan, overriding its overall rate."""

    __tablename__ = "retailer_commissions"
    __table_args__ = (UniqueConstraint("retailer_id", "plan_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    retailer_id: Mapped[int] = mapped_column(ForeignKey("retailers.id"))
    plan_code: Mapped[str] = mapped_column(String(40))
    basis_points: Mapped[int] = mapped_column()


class IdentityCheck(Base):
    """Every NIK check at a counter, matched or not; the fraud rule counts the misses."""

    __tablename__ = "identity_checks"
    __table_args__ = (Index("ix_identity_checks_store_at", "store_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    matched: Mapped[bool] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FraudFlag(Base):
    """Something odd for the operator to look at, raised by a velocity rule."""

    __tablename__ = "fraud_flags"
    __table_args__ = (Index("ix_fraud_flags_subject", "kind", "subject"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(80))
    detail: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
