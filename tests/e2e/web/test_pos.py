"""The store's point of sale in a real browser: the counter as the till's staff use it,
by typing and clicking, against `kuota demo` (its store printers write to files beside
the database, in the server's working directory). The demo API only reads what the
staff would not see on the page: the float's amount, the sales list, the printer file.

All tests of this module share one server: each asserts on what it changed itself.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect
from pypdf import PdfReader

from e2e.web.portal_demo import CARD_1, DemoServer

pytestmark = pytest.mark.slow

STAFF = ("toko-melati", "demo-retail-1")
OWNER = ("melati-owner", "demo-owner-1")
OTHER_STAFF = ("toko-anggrek", "demo-retail-2")
NIK = "3171010101900001"  # the demo card +6281100000001's registration
TILL: ViewportSize = {"width": 1280, "height": 800}


def sign_in_at_counter(page: Page, who: tuple[str, str]) -> None:
    page.goto("/pos")  # not signed in: the sign-in page, then back to the counter
    expect(page).to_have_url(re.compile(r"/login\?next=/pos$"))
    page.get_by_label("E-mail").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/pos$"))


def look_up(page: Page, msisdn: str = CARD_1) -> None:
    page.get_by_label("Card number").fill(msisdn)
    page.keyboard.press("Enter")  # the till's keyboard: type the number, Enter
    expect(page.locator(".owner-name")).to_have_text("S*** R*****")


def fill_sale(page: Page, nik: str, plan: str) -> None:
    page.get_by_label("NIK on the customer's identity card (KTP)").fill(nik)
    page.get_by_label(plan).check()
    page.get_by_label("Cash received from the customer").check()


def float_of(server: DemoServer) -> int:
    with server.api() as api:
        answer = api.get("/api/v1/retail/float-statement", headers=server.headers(OWNER))
    assert answer.status_code == 200, answer.text
    return int(answer.json()["current_balance"]["amount"])


def sales_of(server: DemoServer, who: tuple[str, str]) -> list[dict[str, Any]]:
    with server.api() as api:
        answer = api.get("/api/v1/retail/sales", headers=server.headers(who))
    assert answer.status_code == 200, answer.text
    found: list[dict[str, Any]] = answer.json()
    return found


def sell_by_api(server: DemoServer, who: tuple[str, str], plan: str) -> dict[str, Any]:
    with server.api() as api:
        answer = api.post(
            "/api/v1/renewals",
            json={
                "msisdn": CARD_1,
                "plan_code": plan,
                "payment_method": "retail_float",
                "identity": {"nik": NIK},
            },
            headers={**server.headers(who), "Idempotency-Key": str(uuid.uuid4())},
        )
    assert answer.status_code == 201, answer.text
    sale: dict[str, Any] = answer.json()
    return sale


def test_a_sale_at_the_counter_prints_and_downloads_its_receipt(
    page: Page, demo_server: DemoServer, tmp_path: Path
) -> None:
    page.set_viewport_size(TILL)
    sign_in_at_counter(page, STAFF)
    expect(page.locator(".pos-desk .store")).to_have_text("Toko Melati · RTL-0001")
    expect(page.locator(".pos-float")).to_have_text("Float OK")
    before, sold_before = float_of(demo_server), len(sales_of(demo_server, STAFF))

    look_up(page)
    offer = page.locator("label.offer[data-plan='DATA-5GB-30D']")
    expect(offer).to_contain_text("Rp 50,000")
    expect(offer).to_contain_text("The store earns Rp 2,500")
    fill_sale(page, NIK, "Data 5 GB / 30 hari")
    page.get_by_role("button", name="Sell").dblclick()  # an impatient double click
    expect(page).to_have_url(re.compile(r"/pos/sales/rnw[^/]+$"))
    expect(page.get_by_text("SMS confirmation sent to the card")).to_be_visible()
    receipt = page.locator("pre.receipt")
    expect(receipt).to_contain_text("Toko Melati (RTL-0001)")
    receipt_no = receipt.get_attribute("data-receipt-no") or ""
    assert receipt_no.startswith("KU-")
    assert len(sales_of(demo_server, STAFF)) == sold_before + 1  # sold once
    assert float_of(demo_server) == before - 4_750_000  # Rp 50.000 less 5 % commission

    paper = demo_server.db_path.parent / "receipts-RTL-0001.escpos"
    page.get_by_role("button", name="Print receipt").click()
    expect(page.get_by_text("The receipt was sent to the store's printer.")).to_be_visible()
    assert receipt_no.encode() in paper.read_bytes()
    expect(page.get_by_role("button", name="Print again")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("link", name="Download PDF").click()
    assert download.value.suggested_filename == f"{receipt_no}.pdf"
    saved = tmp_path / "receipt.pdf"
    download.value.save_as(saved)
    text = "\n".join(p.extract_text() or "" for p in PdfReader(saved).pages)
    assert receipt_no in text and "Rp 50,000" in text and CARD_1 not in text

    page.get_by_role("link", name="Next customer").click()
    expect(page.get_by_label("Card number")).to_be_focused()


def test_a_wrong_nik_shows_the_message_and_sells_nothing(
    page: Page, demo_server: DemoServer
) -> None:
    sign_in_at_counter(page, STAFF)
    before, sold_before = float_of(demo_server), len(sales_of(demo_server, STAFF))
    look_up(page)
    fill_sale(page, "3171010101909999", "Data 1 GB / 7 hari")
    page.get_by_role("button", name="Sell").click()
    message = page.locator("#identity-nik-error")
    expect(message).to_contain_text("The NIK does not match the card's registration")
    expect(message).to_contain_text("reported to the operator")
    expect(page.get_by_label("NIK on the customer's identity card (KTP)")).to_be_focused()
    assert len(sales_of(demo_server, STAFF)) == sold_before
    assert float_of(demo_server) == before


def test_a_short_float_asks_for_a_deposit(page: Page, demo_server: DemoServer) -> None:
    for _ in range(8):  # Toko Anggrek's Rp 1.000.000 covers 8 × Rp 115.200
        sell_by_api(demo_server, OTHER_STAFF, "DATA-20GB-30D")
    sold_before = len(sales_of(demo_server, OTHER_STAFF))
    sign_in_at_counter(page, OTHER_STAFF)
    expect(page.locator(".pos-float")).to_have_text("Float low")
    look_up(page)
    fill_sale(page, NIK, "Data 20 GB / 30 hari")
    page.get_by_role("button", name="Sell").click()
    expect(page.locator("#float-error")).to_contain_text(
        "the retailer must deposit money with the operator first"
    )
    expect(page.locator("main")).not_to_contain_text("Rp 78,400")  # the amount: owner's only
    assert len(sales_of(demo_server, OTHER_STAFF)) == sold_before


def test_another_stores_sale_is_not_found(page: Page, demo_server: DemoServer) -> None:
    sale = sell_by_api(demo_server, STAFF, "DATA-1GB-7D")
    sign_in_at_counter(page, OTHER_STAFF)
    answer = page.goto(f"/pos/sales/{sale['id']}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Sorry")
    assert sale["receipt_no"] not in page.content()


def test_the_counter_fits_a_phone(page: Page, demo_server: DemoServer) -> None:
    sign_in_at_counter(page, STAFF)
    look_up(page)
    fill_sale(page, NIK, "Data 1 GB / 7 hari")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, width
    page.get_by_role("button", name="Sell").click()
    expect(page.locator("pre.receipt")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
