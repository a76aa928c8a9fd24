"""Packages: a card's data quota with an expiry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kuota.core.db import Base, BigId, UTCDateTime


class Package(Base):
    __tablename__ = "packages"
    __table_args__ = (Index("ix_packages_card_expiry", "card_id", "expires_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"))
    plan_code: Mapped[str] = mapped_column(String(40))
    plan_version_id: Mapped[int] = mapped_column(ForeignKey("plan_versions.id"))
    quota_total_bytes: Mapped[int] = mapped_column(BigInteger)
    quota_used_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    quota_reserved_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
