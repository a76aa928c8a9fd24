"""People who log in (subscribers, retail staff, operator staff) and their API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
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
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A bearer token, stored as its SHA-256: long and random, so a fast hash is enough."""

    __tablename__ = "api_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
