"""A real renewal's receipt, loaded from the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import event

from kuota.catalog import promotions
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.money import Money
from kuota.core.principal import Principal
from kuota.receipts.document import ReceiptDocument, load_receipt
from kuota.receipts.escpos import render_escpos
from kuota.receipts.pdf import render_pdf
from kuota.receipts.rules import receipt_code, receipt_code_matches
from kuota.renewals import service as renewals
from kuota.renewals.service import RenewalRequest

from factories import make_card, make_subscriber, publish_demo_plans, rupiah

GB = 10**9
MSISDN = "+6281100000001"


@pytest.fixture
def owner(db: Database, ctx: Context) -> Principal:
    with db.unit_of_work() as s:
        publish_demo_plans(s, ctx)
        user = make_subscriber(s, ctx, locale="en")
        make_card(s, ctx, user, balance=200_000, msisdn=MSISDN)
    return user


def buy(db: Database, ctx: Context, who: Principal, plan: str, promo: str | None = None) -> str:
    with db.unit_of_work() as s:
        result = renewals.renew(s, ctx, who, RenewalRequest(MSISDN, plan, "balance", promo))
    assert result["status"] == "fulfilled"
    return str(result["receipt_no"])


def load(db: Database, ctx: Context, receipt_no: str) -> ReceiptDocument | None:
    with db.unit_of_work(write=False) as s:
        return load_receipt(s, ctx, receipt_no)


@contextmanager
def counting_queries(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_balance_renewal_loads_as_its_receipt(
    db: Database, ctx: Context, owner: Principal
) -> None:
    receipt_no = buy(db, ctx, owner, "DATA-5GB-30D")
    with counting_queries(db) as statements:
        doc = load(db, ctx, receipt_no)
    assert len([q for q in statements if q.lstrip().upper().startswith("SELECT")]) == 1
    assert doc is not None
    assert doc.receipt_no == receipt_no
    assert doc.code == receipt_code(receipt_no, ctx.secret_key)
    assert receipt_code_matches(receipt_no, doc.code, ctx.secret_key)
    assert doc.verify_url == f"http://kuota.test/verify/{receipt_no}?c={doc.code}"
    assert doc.operator_name == ctx.settings.operator_name
    assert doc.operator_npwp == ctx.settings.operator_npwp
    assert doc.msisdn_masked == "+62811****0001"
    assert (doc.plan_code, doc.plan_name) == ("DATA-5GB-30D", "Data 5 GB / 30 hari")
    assert (doc.data_bytes, doc.validity_days, doc.bonus_bytes) == (5 * GB, 30, 0)
    assert doc.list_price == rupiah(50_000)
    assert doc.discount == Money.zero("IDR")
    assert doc.total == rupiah(50_000)
    assert doc.vat_included == rupiah(4_955)  # Rp 50.000 × 11/111 = Rp 4.954,95
    assert doc.promo_code is None
    assert (doc.payment_method, doc.channel, doc.place) == ("balance", "online", None)
    assert doc.paid_at == ctx.clock.now()
    assert doc.expires_at == ctx.clock.now() + timedelta(days=30)
    assert doc.paid_at.utcoffset() == timedelta(0)
    assert doc.timezone == "Asia/Jakarta"


def test_a_promotion_shows_its_code_discount_and_bonus(
    db: Database, ctx: Context, owner: Principal
) -> None:
    now = ctx.clock.now()
    with db.unit_of_work() as s:
        for code, kind, value in (("HEMAT", "percent", 1000), ("BONUS", "bonus_quota", GB)):
            promotions.create_promotion(
                s,
                code=code,
                kind=kind,
                value=value,
                currency="IDR",
                starts_at=now - timedelta(days=1),
                ends_at=now + timedelta(days=1),
                plan_codes=None,
                channels=None,
                max_redemptions=None,
                max_per_card=None,
                now=now,
            )
    discounted = load(db, ctx, buy(db, ctx, owner, "DATA-1GB-7D", "HEMAT"))
    assert discounted is not None
    assert discounted.promo_code == "HEMAT"
    assert (discounted.list_price, discounted.discount, discounted.total) == (
        rupiah(15_000),
        rupiah(1_500),
        rupiah(13_500),
    )
    assert discounted.vat_included == rupiah(1_338)  # Rp 1.337,84
    bonus = load(db, ctx, buy(db, ctx, owner, "DATA-5GB-30D", "BONUS"))
    assert bonus is not None
    assert (bonus.promo_code, bonus.bonus_bytes, bonus.total) == ("BONUS", GB, rupiah(50_000))


def test_unknown_receipt_is_none(db: Database, ctx: Context, owner: Principal) -> None:
    buy(db, ctx, owner, "DATA-1GB-7D")
    assert load(db, ctx, "KU-2611-0000000000") is None


def test_rendered_receipts_never_show_the_full_number(
    db: Database, ctx: Context, owner: Principal
) -> None:
    doc = load(db, ctx, buy(db, ctx, owner, "DATA-1GB-7D"))
    assert doc is not None
    data = render_pdf(doc, "id")
    reader = PdfReader(io.BytesIO(data))
    text = reader.pages[0].extract_text()
    assert doc.msisdn_masked in text and "Rp 15.000" in text and doc.code in text
    assert MSISDN not in text and MSISDN.encode() not in data
    assert MSISDN not in str(reader.metadata)
    printed = render_escpos(doc, "id")
    assert doc.receipt_no.encode() in printed and MSISDN.encode() not in printed
