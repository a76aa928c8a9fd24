"""House accounts are created on first use; a rolled-back creation leaves nothing behind."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from kuota.core.context import Context
from kuota.core.db import Database
from kuota.ledger.models import Account
from kuota.ledger.service import house_account_id, open_house_accounts


class Refused(Exception):
    pass


def test_an_account_created_in_a_rolled_back_savepoint_is_not_remembered(
    db: Database, ctx: Context
) -> None:
    with db.unit_of_work() as session:
        with pytest.raises(Refused), session.begin_nested():
            house_account_id(session, ctx, "revenue", "IDR")
            raise Refused
        assert ctx.account_ids == {}
    with db.unit_of_work() as session:
        account_id = house_account_id(session, ctx, "revenue", "IDR")
        assert ctx.account_ids == {}  # created by this transaction: not yet committed
    with db.unit_of_work() as session:
        assert house_account_id(session, ctx, "revenue", "IDR") == account_id
        assert ctx.account_ids == {"house:revenue:IDR": account_id}
        assert session.get(Account, account_id) is not None


def test_opening_house_accounts_twice_creates_each_once(db: Database, ctx: Context) -> None:
    for _ in range(2):
        with db.unit_of_work() as session:
            open_house_accounts(session, ctx)
    with db.unit_of_work(write=False) as session:
        codes = session.execute(
            select(Account.code).where(Account.code.like("house:%")).order_by(Account.code)
        ).scalars()
        assert list(codes) == [
            "house:balance_adjustments:IDR",
            "house:promotion_expense:IDR",
            "house:refunds_payable:IDR",
            "house:retail_commission:IDR",
            "house:retailer_deposits:IDR",
            "house:revenue:IDR",
        ]
