"""Self-service kiosk devices, each authenticated by an API key stored as its SHA-256."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, String
from sqlalchemy.orm import Mapped, mapped_column

from kuota.core.db import Base, BigId, UTCDateTime


class Kiosk(Base):
    __tablename__ = "kiosks"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    location: Mapped[str] = mapped_column(String(160))
    city: Mapped[str] = mapped_column(String(80), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Where its receipts print (see Store.printer); a kiosk's own printer, usually usb.
    printer: Mapped[str] = mapped_column(String(200), default="")
    is_authorised: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The last heartbeat (real time) and what it said.
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    printer_status: Mapped[str] = mapped_column(String(20), default="unknown")
    paper_status: Mapped[str] = mapped_column(String(20), default="unknown")
    app_version: Mapped[str] = mapped_column(String(40), default="")


class ReceiptPrint(Base):
    """A receipt sent to a printer: printed once, however often a kiosk or till retries."""

    __tablename__ = "receipt_prints"

    receipt_no: Mapped[str] = mapped_column(String(24), primary_key=True)
    printer: Mapped[str] = mapped_column(String(200))
    printed_at: Mapped[datetime] = mapped_column(UTCDateTime)
