"""Plans (immutable versions) and promotions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kuota.core.db import Base, BigId, UTCDateTime


class PlanVersion(Base):
    """One priced version of a plan. A price change writes a new version; sales keep theirs."""

    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    version: Mapped[int] = mapped_column()
    name: Mapped[str] = mapped_column(String(120))
    price_amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    data_bytes: Mapped[int] = mapped_column(BigInteger)
    validity_days: Mapped[int] = mapped_column()
    # Exactly one version per code is current while the plan is on sale.
    is_current: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Promotion(Base):
    __tablename__ = "promotions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(12))  # percent | fixed | bonus_quota
    # percent: basis points; fixed: minor units; bonus_quota: bytes.
    value: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    plan_codes: Mapped[list[str] | None] = mapped_column(JSON)
    channels: Mapped[list[str] | None] = mapped_column(JSON)
    max_redemptions: Mapped[int | None] = mapped_column()
    max_per_card: Mapped[int | None] = mapped_column()
    redemptions: Mapped[int] = mapped_column(default=0)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PromotionCardUse(Base):
    """How often one card has redeemed one promotion; the per-card limit is checked here."""

    __tablename__ = "promotion_card_uses"

    promotion_id: Mapped[int] = mapped_column(ForeignKey("promotions.id"), primary_key=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), primary_key=True)
    uses: Mapped[int] = mapped_column(default=0)
