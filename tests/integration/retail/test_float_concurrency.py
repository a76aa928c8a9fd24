"""Thirty store sales race for a float that covers ten: exactly ten are sold, the float
ends at zero, never below, and the ledger balances. On SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import insert

from kuota.auth.models import Role
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.errors import InsufficientFunds
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.renewals import service as renewals
from kuota.renewals.service import RenewalRequest
from kuota.retail.models import Retailer, Store

from factories import make_card, make_staff, publish_demo_plans, rupiah

NIK = "3171010101900001"
SALES = 30
COVERED = 10


def test_thirty_concurrent_sales_against_a_float_for_ten_sell_exactly_ten(
    db: Database, ctx: Context
) -> None:
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        retailer_id = s.execute(
            insert(Retailer)
            .values(
                code="RACE", name="Race", commission_basis_points=500, created_at=ctx.clock.now()
            )
            .returning(Retailer.id)
        ).scalar_one()
        store_id = s.execute(
            insert(Store)
            .values(
                retailer_id=retailer_id,
                code="RACE-1",
                name="Race",
                city="Jakarta",
                created_at=ctx.clock.now(),
            )
            .returning(Store.id)
        ).scalar_one()
        staff = make_staff(s, ctx, Role.RETAIL_STAFF)
        float_id = ledger.open_retailer_float(
            s, retailer_id=retailer_id, currency="IDR", now=ctx.clock.now()
        )
        # DATA-1GB-7D is Rp 15.000; at 5 % the store keeps Rp 750 and the float pays Rp 14.250.
        ledger.move_guarded(
            s,
            ctx,
            account_id=float_id,
            amount=rupiah(COVERED * 14_250),
            house="retailer_deposits",
            kind="float_deposit",
            reference="RACE",
            memo="test",
        )
        cards = [make_card(s, ctx, None, nik=NIK) for _ in range(SALES)]
    seller = Principal(
        kind="user", id=staff.id, name=staff.name, role=Role.RETAIL_STAFF, store_id=store_id
    )
    start = threading.Barrier(SALES)

    def sell(msisdn: str) -> str:
        start.wait(timeout=30)
        try:
            with db.unit_of_work() as s:
                renewals.renew(
                    s,
                    ctx,
                    seller,
                    RenewalRequest(msisdn, "DATA-1GB-7D", "retail_float", identity_nik=NIK),
                )
            return "sold"
        except InsufficientFunds:
            return "short"

    with ThreadPoolExecutor(max_workers=SALES) as pool:
        outcomes = list(pool.map(sell, cards))
    assert outcomes.count("sold") == COVERED
    assert outcomes.count("short") == SALES - COVERED
    with db.unit_of_work(write=False) as s:
        assert ledger.guarded_balance(s, float_id).amount == 0
        assert ledger.account_balance_from_lines(s, float_id) == 0
        assert ledger.check_ledger(s).clean
