"""The self-service kiosk in a real browser: Debian's Chromium at the kiosk's 1080 × 1920
portrait (and 1280 × 800 landscape) screen, against `kuota demo` with its sandbox bank,
card terminal and the demo kiosk's file printer (kiosk-KSK-0001.escpos in the server's
working directory). Customers only tap: the on-screen pad, plans, payment buttons.

All tests of this module share one server (and one printer file): each asserts on what
it changed itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Route, expect

from e2e.web.kiosk_helpers import (
    ESC_INIT,
    KIOSK_HEADERS,
    KIOSK_KEY,
    LANDSCAPE,
    PAYMENT_MS,
    PORTRAIT,
    choose,
    look_up,
    open_kiosk,
    pay_at_sandbox,
    printer_bytes,
    receipts_printed,
    screen,
    type_number,
)
from e2e.web.portal_demo import ADMIN, CARD_1, CARD_2, CARD_3, DEMO_USER_2, DemoServer
from kuota.web.i18n import Translator

pytestmark = pytest.mark.slow

PLAN = "DATA-1GB-7D"
SALE_STORE = "kuota.kiosk.sale"  # where kiosk.js keeps the sale in flight
MIN_TOUCH_PX = 64


def kiosk_sale(server: DemoServer, sale_id: str) -> dict[str, Any]:
    with server.api() as api:
        answer = api.get(f"/api/v1/renewals/{sale_id}", headers=KIOSK_HEADERS)
    assert answer.status_code == 200, answer.text
    sale: dict[str, Any] = answer.json()
    return sale


def eventually(check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.2)


def assert_touch_targets(page: Page, screen_name: str) -> None:
    buttons = screen(page, screen_name).locator("button:visible")
    assert buttons.count() > 0
    for index in range(buttons.count()):
        box = buttons.nth(index).bounding_box()
        assert box is not None
        label = buttons.nth(index).inner_text()
        assert box["width"] >= MIN_TOUCH_PX and box["height"] >= MIN_TOUCH_PX, (label, box)


def assert_no_customer_left(page: Page, *traces: str) -> None:
    """Nothing of the last customer in the DOM, nor in the kiosk's storage."""
    html = page.content()
    for trace in traces:
        assert trace not in html, f"{trace!r} is still in the page"
    assert page.evaluate(f"localStorage.getItem({SALE_STORE!r})") is None


# -- selling ---------------------------------------------------------------------------------


def test_a_qris_sale_is_paid_by_the_bank_app_and_its_receipt_printed_once(
    page: Page, context: BrowserContext, demo_server: DemoServer
) -> None:
    page.set_viewport_size(PORTRAIT)
    sms_before = len(demo_server.messages(CARD_1))
    open_kiosk(page)
    look_up(page, "081100000001")
    expect(screen(page, "plans").locator('[data-slot="owner"]')).to_have_text("S*** R*****")
    expect(screen(page, "plans").locator(f'[data-plan="{PLAN}"] .price')).to_have_text("Rp 15.000")

    payment_id = choose(page, PLAN, "qris")
    waiting = screen(page, "wait")
    expect(waiting).to_have_attribute("data-kind", "qr")
    sale_id = waiting.get_attribute("data-sale-id") or ""
    qr = waiting.locator("img.qr")
    expect(qr).to_be_visible()
    assert (qr.get_attribute("src") or "").startswith("blob:")
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    expect(waiting.locator('[data-slot="wait-amount"]')).to_have_text("Rp 15.000")

    # The customer pays with a banking app; the kiosk moves on by itself.
    pay_at_sandbox(context, payment_id, "approve")
    done = screen(page, "done")
    expect(done).to_be_visible(timeout=PAYMENT_MS)
    expect(done).to_have_attribute("data-printed", "true")
    receipt_no = page.locator("[data-receipt-no]").get_attribute("data-receipt-no") or ""
    sale = kiosk_sale(demo_server, sale_id)
    assert sale["status"] == "fulfilled" and sale["receipt_no"] == receipt_no
    assert sale["msisdn"] != CARD_1  # the kiosk sees the number masked

    printed = printer_bytes(demo_server)
    assert printed.startswith(ESC_INIT)
    assert receipts_printed(demo_server, receipt_no) == 1
    eventually(lambda: len(demo_server.messages(CARD_1)) > sms_before)

    # The done screen goes back to the start by itself, and forgets the customer.
    expect(screen(page, "start")).to_be_visible(timeout=15_000)
    assert_no_customer_left(page, receipt_no, "S*** R*****", "0811 0000 0001", "+62 811")


def test_a_declined_bank_card_leaves_the_card_as_it_was(
    page: Page, context: BrowserContext, demo_server: DemoServer
) -> None:
    page.set_viewport_size(PORTRAIT)
    before = demo_server.card(CARD_2)
    printed_before = printer_bytes(demo_server)
    open_kiosk(page)
    look_up(page, "+6281100000002")  # the international form, with the pad's + key
    payment_id = choose(page, "DATA-5GB-30D", "kiosk_card")
    waiting = screen(page, "wait")
    expect(waiting).to_have_attribute("data-kind", "card")
    expect(waiting.locator('[data-part="terminal"]')).to_be_visible()
    expect(waiting.locator("img.qr")).to_be_hidden()

    pay_at_sandbox(context, payment_id, "decline")  # the bank refuses the card
    failed = screen(page, "failed")
    expect(failed).to_be_visible(timeout=PAYMENT_MS)
    expect(failed).to_have_attribute("data-reason", "declined")
    expect(failed.locator('[data-slot="failed-title"]')).not_to_be_empty()

    after = demo_server.card(CARD_2)
    assert after["balance"] == before["balance"]
    assert after["packages"] == before["packages"]
    assert printer_bytes(demo_server) == printed_before

    # "Try again" offers the payment again for the same plan; "Cancel" forgets it all.
    failed.locator('[data-do="try-again"]').click()
    expect(screen(page, "pay")).to_be_visible()
    expect(screen(page, "pay").locator("[data-total]")).to_have_text("Rp 50.000")
    screen(page, "pay").locator('[data-do="reset"]').click()
    expect(screen(page, "start")).to_be_visible()
    assert_no_customer_left(page, "S*** R*****", "+62 811 0000 0002")


def test_an_untouched_kiosk_goes_back_to_the_start_and_forgets_the_customer(
    page: Page, demo_server: DemoServer
) -> None:
    page.set_viewport_size(PORTRAIT)
    open_kiosk(page, "?idle=3")
    screen(page, "start").locator('[data-do="begin"]').click()
    type_number(page, "0811000")
    expect(page.locator('[data-slot="number-display"]')).to_have_text("0811 000")
    assert_touch_targets(page, "number")
    expect(screen(page, "start")).to_be_visible(timeout=8_000)
    assert_no_customer_left(page, "0811 000", "0811000")

    look_up(page, "081100000001")
    expect(page.locator('[data-slot="owner"]')).to_have_text("S*** R*****")
    expect(screen(page, "start")).to_be_visible(timeout=8_000)
    assert_no_customer_left(page, "S*** R*****", "0811 0000 0001", "+62 811 0000 0001")

    # A screen waiting for a payment is not idle: it has the payment's own deadline.
    look_up(page, "081100000001")
    choose(page, PLAN, "qris")
    page.wait_for_timeout(5_000)
    expect(screen(page, "wait")).to_be_visible()
    expect(screen(page, "wait").locator('[data-slot="time-left"]')).to_contain_text("14:")
    screen(page, "wait").locator('[data-do="abandon"]').click()
    expect(screen(page, "start")).to_be_visible()
    assert_no_customer_left(page, "S*** R*****", "+62 811 0000 0001")
    assert page.locator("img.qr").get_attribute("src") is None


# -- faults ------------------------------------------------------------------------------------


def test_a_kiosk_killed_before_printing_finishes_the_paid_sale_when_it_restarts(
    context: BrowserContext, demo_server: DemoServer
) -> None:
    page = context.new_page()
    page.set_viewport_size(PORTRAIT)
    open_kiosk(page)
    look_up(page, "081100000001")
    payment_id = choose(page, PLAN, "qris")
    sale_id = screen(page, "wait").get_attribute("data-sale-id") or ""

    attempts: list[str] = []

    def lost(route: Route) -> None:
        attempts.append(route.request.url)
        route.abort()  # the print request never reaches the server

    page.route("**/api/v1/kiosk/receipts/**", lost)
    pay_at_sandbox(context, payment_id, "approve")
    expect(screen(page, "busy")).to_be_visible(timeout=PAYMENT_MS)
    eventually(lambda: bool(attempts), timeout=PAYMENT_MS / 1000)
    receipt_no = kiosk_sale(demo_server, sale_id)["receipt_no"]
    assert receipt_no and receipts_printed(demo_server, receipt_no) == 0
    page.close()  # the kiosk's browser dies here; its storage stays

    restarted = context.new_page()
    restarted.set_viewport_size(PORTRAIT)
    restarted.goto("/kiosk")
    done = screen(restarted, "done")
    expect(done).to_be_visible(timeout=PAYMENT_MS)
    expect(done).to_have_attribute("data-printed", "true")
    expect(restarted.locator("[data-receipt-no]")).to_have_text(receipt_no)
    assert receipts_printed(demo_server, receipt_no) == 1
    assert restarted.evaluate(f"localStorage.getItem({SALE_STORE!r})") is None

    # Starting again prints nothing more, and the server would not print it twice anyway.
    size = len(printer_bytes(demo_server))
    restarted.reload()
    expect(screen(restarted, "start")).to_be_visible()
    with demo_server.api() as api:
        again = api.post(f"/api/v1/kiosk/receipts/{receipt_no}/print", headers=KIOSK_HEADERS)
    assert again.status_code == 200 and again.json()["printed_now"] is False
    assert len(printer_bytes(demo_server)) == size
    assert receipts_printed(demo_server, receipt_no) == 1


def test_a_lost_answer_to_the_sale_is_asked_again_with_the_same_idempotency_key(
    page: Page, demo_server: DemoServer
) -> None:
    page.set_viewport_size(PORTRAIT)
    with demo_server.api() as api:
        history = api.get(
            f"/api/v1/cards/{CARD_3}/renewals", headers=demo_server.headers(DEMO_USER_2)
        )
    sales_before = len(history.json())
    keys: list[str] = []

    def answer_lost_once(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key", ""))
        if len(keys) == 1:
            route.fetch()  # the server sells…
            route.abort()  # …and the answer never reaches the kiosk
        else:
            route.continue_()

    page.route("**/api/v1/renewals", answer_lost_once)
    open_kiosk(page)
    look_up(page, "081100000003")
    choose(page, PLAN, "qris")
    expect(screen(page, "wait").locator("img.qr")).to_be_visible()
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    with demo_server.api() as api:
        history = api.get(
            f"/api/v1/cards/{CARD_3}/renewals", headers=demo_server.headers(DEMO_USER_2)
        )
    assert len(history.json()) == sales_before + 1  # one sale, not two
    screen(page, "wait").locator('[data-do="abandon"]').click()
    expect(screen(page, "start")).to_be_visible()


# -- languages and the device ----------------------------------------------------------------


def test_the_customer_switches_language_and_prices_follow_the_locale(
    page: Page, demo_server: DemoServer
) -> None:
    page.set_viewport_size(LANDSCAPE)
    open_kiosk(page)
    html = page.locator("html")
    start = screen(page, "start")
    price = start.locator(f'[data-price="{PLAN}"]')
    plans_title = start.locator('[data-t="plans_title"]')
    expect(html).to_have_attribute("lang", "id")
    expect(price).to_have_text("Rp 15.000")
    expect(plans_title).to_have_text(Translator("id").gettext("Data plans"))
    assert_touch_targets(page, "start")

    start.locator('[data-lang="zh"]').click()
    expect(html).to_have_attribute("lang", "zh")
    expect(plans_title).to_have_text(Translator("zh").gettext("Data plans"))
    expect(price).to_have_text("Rp 15,000")

    start.locator('[data-lang="en"]').click()
    expect(html).to_have_attribute("lang", "en")
    expect(plans_title).to_have_text("Data plans")
    expect(price).to_have_text("Rp 15,000")

    # The language holds for the customer's whole visit, on a landscape screen too.
    look_up(page, "081100000001")
    expect(screen(page, "plans").locator(f'[data-plan="{PLAN}"] .price')).to_have_text("Rp 15,000")
    assert_touch_targets(page, "plans")
    screen(page, "plans").locator('[data-do="to-number"]').click()
    assert_touch_targets(page, "number")
    screen(page, "number").locator('[data-do="reset"]').click()

    # The next customer finds the kiosk in its own language again.
    expect(html).to_have_attribute("lang", "id")
    expect(price).to_have_text("Rp 15.000")

    start.locator('[data-lang="id"]').click()
    expect(price).to_have_text("Rp 15.000")


def test_the_operator_sets_the_key_once_and_can_reset_it_from_the_hidden_corner(
    page: Page, demo_server: DemoServer
) -> None:
    page.set_viewport_size(PORTRAIT)
    open_kiosk(page)
    assert page.evaluate("localStorage.getItem('kuota.kiosk.key')") == KIOSK_KEY
    page.reload()
    expect(screen(page, "start")).to_be_visible()  # asked once, kept

    corner = page.locator("[data-operator-corner]").bounding_box()
    assert corner is not None
    page.mouse.move(corner["x"] + 10, corner["y"] + 10)
    page.mouse.down()
    page.wait_for_timeout(3_300)
    page.mouse.up()
    operator = screen(page, "operator")
    expect(operator).to_be_visible()
    expect(operator.locator('[data-slot="operator-key"]')).to_contain_text("ey-1")
    operator.locator('[data-do="forget-key"]').click()
    expect(screen(page, "setup")).to_be_visible()
    assert page.evaluate("localStorage.getItem('kuota.kiosk.key')") is None

    page.locator("#kiosk-key").fill("not-a-kiosk-key")
    screen(page, "setup").get_by_role("button").click()
    expect(page.locator('[data-slot="setup-error"]')).not_to_be_empty()
    expect(screen(page, "setup")).to_be_visible()
    page.locator("#kiosk-key").fill(KIOSK_KEY)
    screen(page, "setup").get_by_role("button").click()
    expect(screen(page, "start")).to_be_visible()
    with demo_server.api() as api:
        health = api.get("/api/v1/admin/kiosks", headers=demo_server.headers(ADMIN))
    kiosk = next(k for k in health.json() if k["code"] == "KSK-0001")
    assert kiosk["online"] and kiosk["app_version"] == "web-1"
