"""Pure ledger rules: an entry's lines must balance, per currency, and be non-empty."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from kuota.core.errors import LedgerImbalance


@dataclass(frozen=True, slots=True)
class Posting:
    """One line to post: `amount` > 0 debits the account, < 0 credits it."""

    account_id: int
    amount: int
    currency: str


def check_balanced(postings: list[Posting]) -> None:
    if len(postings) < 2:
        raise LedgerImbalance("a journal entry needs at least two lines")
    sums: dict[str, int] = defaultdict(int)
    for posting in postings:
        if posting.amount == 0:
            raise LedgerImbalance("a journal line of zero moves nothing")
        sums[posting.currency] += posting.amount
    unbalanced = {currency: total for currency, total in sums.items() if total != 0}
    if unbalanced:
        raise LedgerImbalance(f"entry does not balance: {unbalanced}")
