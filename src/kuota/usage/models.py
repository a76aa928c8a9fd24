"""Packages: a card's data quota with an expiry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from kuota.core.db import Base, BigId, UTCDateTime


class Package(Base):
    __tablename__ = "packages"
    __table_args__ = (
        Index("ix_packages_card_expiry", "card_id", "expires_at"),
        Index("ix_packages_expiry", "expires_at"),
        # Checked by the database too (migration 0006; triggers on SQLite).
        CheckConstraint(
            "quota_used_bytes >= 0 AND quota_used_bytes <= quota_total_bytes "
            "AND quota_reserved_bytes >= 0",
            name="quota_bounds",
        ),
    )

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


class UsageSession(Base):
    """A data session the network reported on: RADIUS accounting or credit control."""

    __tablename__ = "usage_sessions"

    id: Mapped[str] = mapped_column(String(120), primary_key=True)  # "<source>:<session id>"
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    source: Mapped[str] = mapped_column(String(10))  # radius | gy
    nas_address: Mapped[str | None] = mapped_column(String(64))  # for a Disconnect-Request
    # RADIUS: the session's cumulative counters as last reported (octets + gigawords).
    reported_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    charged_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    last_request_number: Mapped[int] = mapped_column(default=-1)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | closed
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Credit control: the granted slice's validity; an expired reservation is released.
    reservation_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class QuotaReservation(Base):
    """Quota granted to an open credit-control session but not yet reported used."""

    __tablename__ = "quota_reservations"

    session_id: Mapped[str] = mapped_column(ForeignKey("usage_sessions.id"), primary_key=True)
    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), primary_key=True)
    bytes: Mapped[int] = mapped_column(BigInteger)


class UsageRecord(Base):
    """Bytes charged to one package, from one report (accounting, credit control, import)."""

    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_records_package_day", "package_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("cards.id"), index=True)
    package_id: Mapped[int | None] = mapped_column(ForeignKey("packages.id"))
    session_id: Mapped[str | None] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(10))
    bytes: Mapped[int] = mapped_column(BigInteger)
    # Bytes reported but not charged: the card had no quota left for them.
    uncharged_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImportedRecord(Base):
    """An imported usage record's id: importing the same file twice charges once.

    An import claims a window's ids before it charges them (`ImportWindow`); the card
    and the window are kept so that a claim whose card was never charged, by a run that
    stopped, can be given back. Claims from before 0008 have neither."""

    __tablename__ = "imported_usage_records"
    __table_args__ = (Index("ix_imported_usage_records_window_id", "window_id"),)

    record_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    card_id: Mapped[int | None] = mapped_column(BigInteger)
    window_id: Mapped[int | None] = mapped_column(BigInteger)


class ImportWindow(Base):
    """A window of an import being charged: its ids are claimed, its cards are charged
    one transaction at a time (`ImportWindowCard`). Gone once the window is charged; one
    left behind is from a run that stopped, and the next import gives back its claims
    of cards not charged."""

    __tablename__ = "import_windows"
    # Never reused (SQLite would reuse the largest id once it is deleted): claims keep
    # their window's id after it is gone.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImportWindowCard(Base):
    """A card whose records of the window are charged (in the transaction that wrote it)."""

    __tablename__ = "import_window_cards"

    window_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    card_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)


class CreditControlAnswer(Base):
    """The first answer to (session_id, request_number): a repeated request gets it again."""

    __tablename__ = "credit_control_answers"

    session_id: Mapped[str] = mapped_column(String(120), primary_key=True)
    request_number: Mapped[int] = mapped_column(primary_key=True)
    answer: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReminderSent(Base):
    """A reminder sent for one package period (its expiry at the time): never twice."""

    __tablename__ = "reminders_sent"

    package_id: Mapped[int] = mapped_column(ForeignKey("packages.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # 3d | 1d | expired | low
    period_end: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)


class NetworkElement(Base):
    """A packet gateway or charging client allowed to call the credit-control API."""

    __tablename__ = "network_elements"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of X-Network-Key
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RadiusClient(Base):
    """An access server allowed to talk RADIUS to kuota, with its own shared secret.

    The secret is kept as given: RADIUS needs it to compute and check authenticators."""

    __tablename__ = "radius_clients"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(80))
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
