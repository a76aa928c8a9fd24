"""Posting balanced journal entries, reading balances, and checking the whole ledger."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kuota.core.context import Context
from kuota.core.db import run, table_of
from kuota.core.errors import InsufficientFunds
from kuota.core.money import Money
from kuota.ledger.models import Account, JournalEntry, JournalLine
from kuota.ledger.rules import Posting, check_balanced

CARD_MAIN = "card_main"
RETAILER_FLOAT = "retailer_float"

# House accounts: code prefix → (kind, normal sign).
HOUSE_ACCOUNTS: dict[str, tuple[str, int]] = {
    "revenue": ("revenue", -1),
    "promotion_expense": ("expense", 1),
    "balance_adjustments": ("expense", 1),
    # What retailers earn on their sales, kept back from their float.
    "retail_commission": ("expense", 1),
    "clearing": ("asset", 1),
    "retailer_deposits": ("asset", 1),
    # Money taken for a sale that could not be delivered, owed back to the payer.
    "refunds_payable": ("liability", -1),
}


def open_card_account(session: Session, *, card_id: int, currency: str, now: datetime) -> int:
    result = session.execute(
        insert(Account)
        .values(
            code=f"card:{card_id}:main:{currency}",
            kind=CARD_MAIN,
            currency=currency,
            normal_sign=-1,
            balance=0,
            card_id=card_id,
            created_at=now,
        )
        .returning(Account.id)
    )
    return int(result.scalar_one())


def open_retailer_float(session: Session, *, retailer_id: int, currency: str, now: datetime) -> int:
    result = session.execute(
        insert(Account)
        .values(
            code=f"retailer:{retailer_id}:float:{currency}",
            kind=RETAILER_FLOAT,
            currency=currency,
            normal_sign=-1,
            balance=0,
            retailer_id=retailer_id,
            created_at=now,
        )
        .returning(Account.id)
    )
    return int(result.scalar_one())


def retailer_float_account_id(session: Session, retailer_id: int) -> int:
    return int(
        session.execute(select(Account.id).where(Account.retailer_id == retailer_id)).scalar_one()
    )


# Posting runs on every sale: the statements are built once, not per call.
_CARD_ACCOUNT = select(Account.id, Account.currency).where(Account.card_id == bindparam("card_id"))
_GUARDED_MOVE = (
    update(Account)
    .where(Account.id == bindparam("w_id"), Account.balance + bindparam("delta") >= 0)
    .values(balance=Account.balance + bindparam("delta"))
)
_NEW_ENTRY = (
    insert(JournalEntry)
    .values(
        kind=bindparam("kind"),
        reference=bindparam("reference"),
        memo=bindparam("memo"),
        created_at=bindparam("now"),
    )
    .returning(JournalEntry.id)
)
_NEW_LINE = insert(table_of(JournalLine))


def card_account_id(session: Session, card_id: int) -> int:
    return card_account(session, card_id)[0]


def card_account(session: Session, card_id: int) -> tuple[int, str]:
    """The card's main-balance account: its id and the currency it is kept in."""
    row = run(session, _CARD_ACCOUNT, {"card_id": card_id}).one()
    return int(row.id), str(row.currency)


CREATED_HERE = "kuota_house_accounts_created"


def house_account_id(session: Session, ctx: Context, name: str, currency: str) -> int:
    """The id of a house account (`revenue`, `clearing:sandbox`, …), created on first use.

    Ids are remembered for the life of the process, but only ids this transaction found
    already there: one it created itself may yet be rolled back (a refused sale's
    savepoint takes it away), and a remembered id of a vanished row would break every
    later sale."""
    code = f"house:{name}:{currency}"
    cached = ctx.account_ids.get(code)
    if cached is not None:
        return cached
    found = session.execute(select(Account.id).where(Account.code == code)).scalar_one_or_none()
    created_here: set[str] = session.info.setdefault(CREATED_HERE, set())
    if found is None:
        kind, sign = HOUSE_ACCOUNTS[name.split(":", 1)[0]]
        try:
            with session.begin_nested():
                session.execute(
                    insert(Account).values(
                        code=code,
                        kind=kind,
                        currency=currency,
                        normal_sign=sign,
                        balance=None,
                        card_id=None,
                        created_at=ctx.clock.now(),
                    )
                )
        except IntegrityError:
            pass  # another process created it first
        created_here.add(code)
        found = session.execute(select(Account.id).where(Account.code == code)).scalar_one()
    elif code not in created_here:
        ctx.account_ids[code] = int(found)
    return int(found)


def open_house_accounts(session: Session, ctx: Context, names: list[str] | None = None) -> None:
    """Create the house accounts a process will post to, in a transaction of their own at
    start-up, so sales never race to create them."""
    for name in names or [n for n in HOUSE_ACCOUNTS if n != "clearing"]:
        house_account_id(session, ctx, name, ctx.settings.currency)


@dataclass(frozen=True, slots=True)
class GuardedMove:
    """A move on a guarded account, in the account's own sense: + credits the holder."""

    account_id: int
    delta: int


def post(
    session: Session,
    *,
    kind: str,
    reference: str,
    memo: str,
    postings: list[Posting],
    guarded: list[GuardedMove],
    now: datetime,
) -> int:
    """Write one balanced entry. Guarded balances move first, by a conditional update that
    refuses to go below zero, so a short balance changes nothing."""
    check_balanced(postings)
    for move in guarded:
        moved = run(session, _GUARDED_MOVE, {"w_id": move.account_id, "delta": move.delta})
        if moved.rowcount != 1:
            raise InsufficientFunds("balance too low", account_id=move.account_id)
    entry_id = run(
        session, _NEW_ENTRY, {"kind": kind, "reference": reference, "memo": memo, "now": now}
    ).scalar_one()
    run(
        session,
        _NEW_LINE,
        [
            {
                "entry_id": entry_id,
                "account_id": p.account_id,
                "amount": p.amount,
                "currency": p.currency,
            }
            for p in postings
        ],
    )
    return int(entry_id)


def move_guarded(
    session: Session,
    ctx: Context,
    *,
    account_id: int,
    amount: Money,
    house: str,
    kind: str,
    reference: str,
    memo: str,
) -> int:
    """Credit (amount > 0) or debit (< 0) a guarded account against a house account.

    Raises `InsufficientFunds` and changes nothing when a debit would go below zero."""
    house_id = house_account_id(session, ctx, house, amount.currency)
    return post(
        session,
        kind=kind,
        reference=reference,
        memo=memo,
        postings=[
            Posting(house_id, amount.amount, amount.currency),
            Posting(account_id, -amount.amount, amount.currency),
        ],
        guarded=[GuardedMove(account_id, amount.amount)],
        now=ctx.clock.now(),
    )


def card_balance(session: Session, card_id: int) -> Money:
    row = session.execute(
        select(Account.balance, Account.currency).where(Account.card_id == card_id)
    ).one()
    return Money(int(row.balance or 0), row.currency)


def guarded_balance(session: Session, account_id: int) -> Money:
    row = session.execute(
        select(Account.balance, Account.currency).where(Account.id == account_id)
    ).one()
    return Money(int(row.balance or 0), row.currency)


def account_balance_from_lines(session: Session, account_id: int) -> int:
    row = session.execute(
        select(Account.normal_sign, func.coalesce(func.sum(JournalLine.amount), 0))
        .select_from(Account)
        .outerjoin(JournalLine, JournalLine.account_id == Account.id)
        .where(Account.id == account_id)
        .group_by(Account.id, Account.normal_sign)
    ).one()
    return int(row[0]) * int(row[1])


@dataclass
class LedgerReport:
    entries_checked: int
    accounts_checked: int
    unbalanced_entries: list[tuple[int, str, int]]
    balance_mismatches: list[tuple[str, int, int]]
    negative_balances: list[tuple[str, int]]

    @property
    def clean(self) -> bool:
        return not (self.unbalanced_entries or self.balance_mismatches or self.negative_balances)


def check_ledger(session: Session) -> LedgerReport:
    """Every entry balances per currency; every stored balance equals the sum of its lines."""
    entries = session.execute(select(func.count()).select_from(JournalEntry)).scalar_one()
    unbalanced = session.execute(
        select(JournalLine.entry_id, JournalLine.currency, func.sum(JournalLine.amount))
        .group_by(JournalLine.entry_id, JournalLine.currency)
        .having(func.sum(JournalLine.amount) != 0)
    ).all()
    one_line = session.execute(
        select(JournalLine.entry_id, func.min(JournalLine.currency), func.count())
        .group_by(JournalLine.entry_id)
        .having(func.count() < 2)
    ).all()
    no_lines = session.execute(
        select(JournalEntry.id)
        .outerjoin(JournalLine, JournalLine.entry_id == JournalEntry.id)
        .where(JournalLine.id.is_(None))
    ).all()
    currency_mismatches = session.execute(
        select(JournalLine.entry_id, JournalLine.currency, JournalLine.amount)
        .join(Account, Account.id == JournalLine.account_id)
        .where(Account.currency != JournalLine.currency)
    ).all()
    sums = (
        select(JournalLine.account_id, func.sum(JournalLine.amount).label("total"))
        .group_by(JournalLine.account_id)
        .subquery()
    )
    stored = session.execute(
        select(Account.code, Account.balance, Account.normal_sign * func.coalesce(sums.c.total, 0))
        .outerjoin(sums, sums.c.account_id == Account.id)
        .where(Account.balance.is_not(None))
    ).all()
    accounts = session.execute(select(func.count()).select_from(Account)).scalar_one()
    return LedgerReport(
        entries_checked=int(entries),
        accounts_checked=int(accounts),
        unbalanced_entries=[
            (int(e), str(c), int(t)) for e, c, t in [*unbalanced, *one_line, *currency_mismatches]
        ]
        + [(int(e), "-", 0) for (e,) in no_lines],
        balance_mismatches=[
            (str(code), int(bal or 0), int(derived))
            for code, bal, derived in stored
            if bal != derived
        ],
        negative_balances=[(str(code), int(bal or 0)) for code, bal, _ in stored if (bal or 0) < 0],
    )
