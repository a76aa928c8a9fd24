"""Double-entry ledger: accounts, journal entries and their lines.

A line's `amount` is signed: positive debits, negative credits; the lines of
an entry sum to zero. An account's balance is `normal_sign × Σ amount`
(credit-normal accounts, such as a card's main balance, have sign −1).

Only *guarded* accounts (a card's main balance, a retailer's float) keep a
stored `balance`, moved by a conditional update that can never take it below
zero. House accounts (revenue, clearing, promotion expense) derive theirs
from their lines, so renewals never queue on one hot revenue row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from kuota.core.db import Base, BigId, UTCDateTime


class Account(Base):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(30))
    currency: Mapped[str] = mapped_column(String(3))
    normal_sign: Mapped[int] = mapped_column()
    # Stored for guarded accounts only (never negative); None for house accounts.
    balance: Mapped[int | None] = mapped_column(BigInteger)
    card_id: Mapped[int | None] = mapped_column(ForeignKey("cards.id"), unique=True)
    retailer_id: Mapped[int | None] = mapped_column(ForeignKey("retailers.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JournalEntry(Base):
    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(80), index=True)
    memo: Mapped[str] = mapped_column(String(240))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JournalLine(Base):
    __tablename__ = "journal_lines"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
