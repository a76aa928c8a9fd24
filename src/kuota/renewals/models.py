"""A renewal: one plan bought for one card through one channel, with its price frozen."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kuota.core.db import Base, UTCDateTime


class RenewalStatus(StrEnum):
    PENDING_PAYMENT = "pending_payment"
    FULFILLED = "fulfilled"
    FAILED = "failed"


class Channel(StrEnum):
    ONLINE = "online"
    RETAIL = "retail"
    KIOSK = "kiosk"
    AUTO = "auto_renewal"


class Renewal(Base):
    __tablename__ = "renewals"
    __table_args__ = (Index("ix_renewals_card_created", "card_id", "created_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"))
    channel: Mapped[str] = mapped_column(String(16))
    payment_method: Mapped[str] = mapped_column(String(16))
    payment_id: Mapped[str | None] = mapped_column(ForeignKey("payments.id"))
    promotion_id: Mapped[int | None] = mapped_column(ForeignKey("promotions.id"))
    list_price: Mapped[int] = mapped_column(BigInteger)
    discount: Mapped[int] = mapped_column(BigInteger)
    total: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    bonus_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[str] = mapped_column(String(16))
    receipt_no: Mapped[str | None] = mapped_column(String(24), unique=True)
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    actor: Mapped[str] = mapped_column(String(80))
    # Where it was sold, for store and kiosk sales; the retailer's commission on it.
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))
    commission: Mapped[int] = mapped_column(BigInteger, default=0)
    failure_reason: Mapped[str | None] = mapped_column(String(240))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fulfilled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
