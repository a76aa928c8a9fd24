"""Self-service kiosk devices, each authenticated by an API key stored as its SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from kuota.core.db import Base, BigId, UTCDateTime


class Kiosk(Base):
    __tablename__ = "kiosks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    location: Mapped[str] = mapped_column(String(160))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    is_authorised: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
