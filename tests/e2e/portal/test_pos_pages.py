"""The store's point of sale over HTTP, as the till's browser drives it: a sale through
the counter's form, the receipt printed and downloaded, refusals (a wrong NIK, a short
float, a forged form) that sell nothing, and nobody seeing another store's sales."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from kuota.core.db import Database
from kuota.renewals.models import Renewal
from kuota.retail.models import FraudFlag, IdentityCheck, Store

from http_helpers import login
from portal_helpers import ALICE, ALICE_CARD, csrf_of, deliver_outbox, key_of, sign_in

STAFF = ("toko-melati", "demo-retail-1")
OWNER = ("melati-owner", "demo-owner-1")
OTHER_STAFF = ("toko-anggrek", "demo-retail-2")
CARD = ALICE_CARD
NIK = "3171010101900001"
_SALE = re.compile(r"^/pos/sales/(rnw[^/?]+)$")


def sign_in_as(client: TestClient, who: tuple[str, str]) -> None:
    client.cookies.clear()
    answer = sign_in(client, who, next_page="/pos")
    assert answer.status_code == 303 and answer.headers["location"] == "/pos", answer.text


def counter(client: TestClient, msisdn: str = CARD) -> str:
    page = client.get("/pos", params={"msisdn": msisdn})
    assert page.status_code == 200, page.text
    return page.text


def sell(
    client: TestClient,
    nik: str = NIK,
    plan: str = "DATA-5GB-30D",
    *,
    page: str | None = None,
    cash: bool = True,
) -> httpx.Response:
    """Fill in the counter's sale form and press Sell."""
    page = page if page is not None else counter(client)
    form = {
        "csrf_token": csrf_of(page),
        "idempotency_key": key_of(page),
        "msisdn": CARD,
        "nik": nik,
        "plan_code": plan,
    }
    if cash:
        form["cash_received"] = "yes"
    return client.post("/pos/sell", data=form, follow_redirects=False)


def sold(answer: httpx.Response) -> str:
    """The sale id a successful Sell redirected to."""
    assert answer.status_code == 303, answer.text
    found = _SALE.match(answer.headers["location"])
    assert found, answer.headers["location"]
    return found.group(1)


def float_of(client: TestClient) -> int:
    """Toko Melati's float (minor units), as its owner reads it from the API."""
    statement = client.get("/api/v1/retail/float-statement", headers=login(client, *OWNER))
    return int(statement.json()["current_balance"]["amount"])


def count(db: Database, model: type[object]) -> int:
    with db.unit_of_work(write=False) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def identity_checks(db: Database) -> list[bool]:
    with db.unit_of_work(write=False) as session:
        query = select(IdentityCheck.matched).order_by(IdentityCheck.id)
        return [bool(m) for m in session.execute(query).scalars()]


@pytest.fixture
def printer(demo_db: Database, tmp_path: Path) -> Path:
    """Toko Melati's receipts go to a spool file of this test's own."""
    spool = tmp_path / "till.escpos"
    with demo_db.unit_of_work() as session:
        session.execute(
            update(Store).where(Store.code == "RTL-0001").values(printer=f"file:{spool}")
        )
    return spool


def test_the_counter_needs_a_retailers_sign_in(client: TestClient) -> None:
    away = client.get("/pos", follow_redirects=False)
    assert away.status_code == 303 and away.headers["location"] == "/login?next=/pos"
    assert sign_in(client, ALICE).status_code == 303
    for path in ("/pos", "/pos/sales", "/retail/statement", "/pos/sales.csv"):
        assert client.get(path).status_code == 404, path


def test_a_sale_at_the_counter_prints_and_downloads_its_receipt(
    client: TestClient, demo_db: Database, printer: Path
) -> None:
    before = float_of(client)
    sign_in_as(client, STAFF)
    page = counter(client)
    assert 'data-store="RTL-0001"' in page and "Toko Melati · RTL-0001" in page
    assert 'data-float="ok"' in page and "Rp 5.000.000" not in page  # staff: no amounts
    assert 'data-owner="S*** R*****"' in page and "Siti Rahayu" not in page
    offer = re.search(r'data-plan="DATA-5GB-30D">(.*?)</label>', page, re.S)
    assert offer and "Rp 50.000" in offer.group(1) and "Rp 2.500" in offer.group(1)

    sale_id = sold(sell(client, page=page))
    assert float_of(client) == before - 4_750_000  # Rp 50.000 less 5 % commission
    assert identity_checks(demo_db) == [True]
    receipt = client.get(f"/pos/sales/{sale_id}")
    assert receipt.status_code == 200
    receipt_no = re.search(r'data-receipt-no="([^"]+)"', receipt.text)
    assert receipt_no, receipt.text
    number = receipt_no.group(1)
    assert "Toko Melati (RTL-0001)" in receipt.text and "+62811****0001" in receipt.text
    assert 'data-sms="sent"' in receipt.text
    deliver_outbox(client)
    sms = client.get("/api/v1/test/messages", params={"to": CARD}).json()
    assert [m["channel"] for m in sms] == ["sms"], sms

    token = csrf_of(receipt.text)
    first = client.post(
        f"/pos/sales/{sale_id}/print", data={"csrf_token": token}, follow_redirects=False
    )
    assert first.headers["location"] == f"/pos/sales/{sale_id}?printed=now"
    again = client.post(f"/pos/sales/{sale_id}/print", data={"csrf_token": token})
    assert 'data-printed="before"' in again.text
    paper = printer.read_bytes()
    assert paper.startswith(b"\x1b@") and number.encode() in paper
    assert paper.count(b"\x1b@") == 1  # one receipt: ESC @ starts each
    forced = client.post(f"/pos/sales/{sale_id}/print", data={"csrf_token": token, "again": "yes"})
    assert 'data-printed="now"' in forced.text
    assert printer.read_bytes().count(b"\x1b@") == 2

    pdf = client.get(f"/pos/sales/{sale_id}/receipt.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")

    listed = client.get("/pos/sales", params={"since": "2020-01-01", "until": "2099-12-31"})
    assert listed.text.count("<tr data-sale=") == 1 and sale_id in listed.text
    page_csv = client.get("/pos/sales.csv").text
    api_csv = client.get(
        "/api/v1/retail/sales", params={"format": "csv"}, headers=login(client, *STAFF)
    ).text
    assert page_csv == api_csv and number in page_csv


def test_a_wrong_nik_sells_nothing_is_counted_and_three_raise_a_flag(
    client: TestClient, demo_db: Database
) -> None:
    before = float_of(client)
    sign_in_as(client, STAFF)
    for attempt in range(3):
        refused = sell(client, nik=f"317101010190000{attempt + 2}")
        assert refused.status_code == 403
        assert 'id="identity-nik-error" data-error="identity-mismatch"' in refused.text
        assert 'class="warning"' in refused.text
        assert key_of(refused.text)  # a fresh key to sell with once the NIK is right
    malformed = sell(client, nik="12345")
    assert malformed.status_code == 422 and 'id="identity-nik-error"' in malformed.text
    assert float_of(client) == before and count(demo_db, Renewal) == 0
    assert identity_checks(demo_db) == [False, False, False]  # the malformed one: not compared
    with demo_db.unit_of_work(write=False) as session:
        flags = session.execute(select(FraudFlag.kind)).scalars().all()
    assert flags == ["identity_mismatches"]
    # The refused page sells with the right NIK: a new key, nothing stale.
    assert sold(sell(client, page=refused.text))


def test_cash_must_be_ticked_before_anything_is_compared(
    client: TestClient, demo_db: Database
) -> None:
    sign_in_as(client, STAFF)
    refused = sell(client, cash=False)
    assert refused.status_code == 422 and 'id="cash_received-error"' in refused.text
    assert count(demo_db, Renewal) == 0 and identity_checks(demo_db) == []


def test_a_short_float_is_refused_with_the_deposit_message_and_no_amounts(
    client: TestClient, demo_db: Database
) -> None:
    sign_in_as(client, OTHER_STAFF)
    for _ in range(8):  # Rp 1.000.000 covers 8 × Rp 115.200 (Rp 120.000 less 4 %)
        sold(sell(client, plan="DATA-20GB-30D"))
    page = counter(client)
    assert 'data-float="low"' in page and "Rp 78.400" not in page
    refused = sell(client, plan="DATA-20GB-30D", page=page)
    assert refused.status_code == 402
    assert 'id="float-error" data-error="insufficient-funds"' in refused.text
    assert "Rp 78.400" not in refused.text and "Rp 115.200" not in refused.text
    assert count(demo_db, Renewal) == 8
    assert float_of(client) == 500_000_000  # Toko Melati's float is its own


def test_a_double_submitted_sale_sells_once(client: TestClient, demo_db: Database) -> None:
    before = float_of(client)
    sign_in_as(client, STAFF)
    page = counter(client)
    first, second = sell(client, page=page), sell(client, page=page)
    assert sold(first) == sold(second)
    assert count(demo_db, Renewal) == 1 and identity_checks(demo_db) == [True]
    assert float_of(client) == before - 4_750_000


def test_a_form_without_its_csrf_token_is_403_and_sells_nothing(
    client: TestClient, demo_db: Database, printer: Path
) -> None:
    sign_in_as(client, STAFF)
    page = counter(client)
    form = {
        "idempotency_key": key_of(page),
        "msisdn": CARD,
        "nik": NIK,
        "plan_code": "DATA-1GB-7D",
        "cash_received": "yes",
    }
    assert client.post("/pos/sell", data=form).status_code == 403
    assert client.post("/pos/sell", data={**form, "csrf_token": "0" * 40}).status_code == 403
    assert count(demo_db, Renewal) == 0 and identity_checks(demo_db) == []
    sale_id = sold(sell(client, page=page))
    assert client.post(f"/pos/sales/{sale_id}/print", data={}).status_code == 403
    assert not printer.exists()


def test_nobody_sees_another_stores_sales_and_only_the_owner_the_statement(
    client: TestClient, printer: Path
) -> None:
    sign_in_as(client, STAFF)
    sale_id = sold(sell(client))
    assert client.get("/retail/statement").status_code == 404  # staff: not theirs

    sign_in_as(client, OTHER_STAFF)
    other_page = counter(client)
    token = csrf_of(other_page)
    assert client.get(f"/pos/sales/{sale_id}").status_code == 404
    assert client.get(f"/pos/sales/{sale_id}/receipt.pdf").status_code == 404
    assert client.post(f"/pos/sales/{sale_id}/print", data={"csrf_token": token}).status_code == (
        404
    )
    assert not printer.exists()
    assert client.get("/pos/sales", params={"store": "RTL-0001"}).status_code == 404
    assert "<tr data-sale=" not in client.get("/pos/sales").text
    assert client.get("/retail/statement").status_code == 404

    sign_in_as(client, OWNER)
    desk = client.get("/pos").text
    assert "Rp 4.952.500" in desk and 'action="/pos/sell"' not in desk  # owners see amounts
    stores = client.get("/pos/sales").text
    assert sale_id in stores and 'value="RTL-0002"' in stores
    assert "<tr data-sale=" not in client.get("/pos/sales", params={"store": "RTL-0002"}).text
    assert client.get("/pos/sales", params={"store": "RTL-0101"}).status_code == 404
    statement = client.get("/retail/statement")
    assert statement.status_code == 200
    assert 'data-commission="250000"' in statement.text
    assert 'data-balance="495250000"' in statement.text  # the running balance after the sale
    page_csv = client.get("/retail/statement.csv").text
    api_csv = client.get(
        "/api/v1/retail/float-statement", params={"format": "csv"}, headers=login(client, *OWNER)
    ).text
    assert page_csv == api_csv and page_csv.strip().endswith(",-47500,4952500")
    assert client.get(f"/pos/sales/{sale_id}").status_code == 200  # the owner's store's sale


@pytest.mark.parametrize("lang", ["id", "en", "zh"])
def test_the_pos_pages_render_in_each_language(client: TestClient, lang: str) -> None:
    sign_in_as(client, STAFF)
    sale_id = sold(sell(client))
    for path, params in (
        ("/pos", {}),
        ("/pos", {"msisdn": CARD}),
        ("/pos/sales", {}),
        (f"/pos/sales/{sale_id}", {}),
    ):
        page = client.get(path, params={**params, "lang": lang})
        assert page.status_code == 200, (path, page.text[:300])
        assert f'<html lang="{lang}">' in page.text, path
    sign_in_as(client, OWNER)
    for path in ("/pos", "/pos/sales", "/retail/statement"):
        page = client.get(path, params={"lang": lang})
        assert page.status_code == 200 and f'<html lang="{lang}">' in page.text, path
