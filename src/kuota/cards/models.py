"""Data cards: a number (E.164), optionally an ICCID, an owner, an identity registration."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kuota.core.db import Base, BigId, UTCDateTime


class CardStatus(StrEnum):
    ACTIVE = "active"
    GRACE = "grace"
    TERMINATED = "terminated"


class Card(Base):
    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    msisdn: Mapped[str] = mapped_column(String(16), unique=True)
    iccid: Mapped[str | None] = mapped_column(String(22), unique=True)
    owner_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    owner_name: Mapped[str | None] = mapped_column(String(120))
    # HMAC-SHA256 of the NIK under the secret key; the NIK itself is never stored.
    nik_hash: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default=CardStatus.ACTIVE)
    auto_renew: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
