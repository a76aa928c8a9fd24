"""People who log in (subscribers, retail staff, operator staff) and their API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from kuota.core.db import Base, BigId, UTCDateTime


class Role(StrEnum):
    SUBSCRIBER = "subscriber"
    RETAIL_STAFF = "retail_staff"
    RETAIL_OWNER = "retail_owner"
    ADMIN = "admin"
    FINANCE = "finance"
    SUPPORT = "support"


OPERATOR_ROLES = frozenset({Role.ADMIN, Role.FINANCE, Role.SUPPORT})
RETAIL_ROLES = frozenset({Role.RETAIL_STAFF, Role.RETAIL_OWNER})


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(254), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    display_name: Mapped[str] = mapped_column(String(120))
    locale: Mapped[str] = mapped_column(String(5), default="id")
    store_id: Mapped[int | None] = mapped_column(ForeignKey("stores.id"))
    # A retailer owner's retailer (staff have it through their store).
    retailer_id: Mapped[int | None] = mapped_column(ForeignKey("retailers.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token, stored as its SHA-256: long and random, so a fast hash is enough."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A logged-in browser. The cookie carries a random id (signed); only its SHA-256 is
    stored, so a copy of the database cannot be replayed as cookies."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SignInAttempt(Base):
    """Every login, code request and code check, kept for the audit and for lockouts."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_subject_at", "subject", "created_at"),
        Index("ix_sign_in_attempts_address_at", "client_address", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20))  # password | code_request | code_check
    subject: Mapped[str] = mapped_column(String(254))  # e-mail or card number, normalised
    client_address: Mapped[str] = mapped_column(String(64))
    succeeded: Mapped[bool] = mapped_column()
    reason: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OneTimeCode(Base):
    """A 6-digit code sent to a card (or an e-mail address) to prove it is held.
    Stored as an HMAC; valid for minutes; a few tries, then it is spent."""

    __tablename__ = "one_time_codes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(20))  # attach_card | sign_in | reset_password
    destination: Mapped[str] = mapped_column(String(254))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
