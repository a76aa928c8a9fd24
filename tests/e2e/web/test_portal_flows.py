"""Every portal flow as a subscriber walks it: on a 360 px phone in Chromium, by clicking
and typing, against `kuota demo` (the sandbox gateway's webhooks and the demo mailbox
are real). The demo API is used only to read what a person would read elsewhere (an SMS,
an e-mail) and to check balances and packages before and after.

All tests of this module share one server: each asserts on what it changed itself.
"""

from __future__ import annotations

import csv
import io
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect
from pypdf import PdfReader

from e2e.web.portal_demo import (
    ADMIN,
    CARD_1,
    CARD_2,
    CARD_3,
    DEMO_USER,
    DEMO_USER_2,
    FREE_CARD,
    DemoServer,
)

pytestmark = pytest.mark.slow

FOLLOW_MS = 20_000  # a page that waits for a payment asks every 2 s
PLAN = "DATA-1GB-7D"
PRICE = 1_500_000  # Rp 15.000 in minor units
GB = 10**9


def card_path(msisdn: str) -> str:
    return f"/cards/{quote(msisdn)}"


def url_ending(path: str) -> re.Pattern[str]:
    return re.compile(re.escape(path) + r"(\?.*)?$")


def sign_in(page: Page, who: tuple[str, str] = DEMO_USER) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(who[0])
    page.get_by_label("Password").fill(who[1])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(url_ending("/cards"))


def dashboard_balance(page: Page, msisdn: str) -> int:
    """Open the card's dashboard from "My cards" and read its main balance (minor units)."""
    page.get_by_role("navigation", name="Main").get_by_role("link", name="My cards").click()
    page.get_by_role("link", name=msisdn, exact=True).click()
    expect(page).to_have_url(url_ending(card_path(msisdn)))
    return int(page.locator(".balance").get_attribute("data-balance") or "x")


def open_renew(page: Page, msisdn: str) -> None:
    page.goto(card_path(msisdn))
    page.get_by_role("link", name="Renew", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Renew {msisdn}")


def choose(page: Page, plan_name: str, method: str) -> None:
    page.get_by_label(plan_name).check()
    page.get_by_label(method, exact=True).check()


def quota_bytes(server: DemoServer, msisdn: str) -> int:
    """All the data the card's active packages hold (a second package of the same plan
    may extend the first rather than stand beside it)."""
    return sum(int(p["quota_total_bytes"]) for p in server.card(msisdn)["packages"])


def history_rows(page: Page, msisdn: str) -> int:
    page.goto(f"/history?card={quote(msisdn)}")
    return page.locator("table.history tbody tr").count()


# -- signing up, attaching a card, one-time codes ----------------------------------------


def test_a_new_subscriber_registers_and_attaches_a_card_by_its_sms_code(
    page: Page, demo_server: DemoServer
) -> None:
    card = FREE_CARD
    page.goto("/")
    page.get_by_role("main").get_by_role("link", name="Create an account").click()
    page.get_by_label("Your name").fill("Dewi Lestari")
    page.get_by_label("E-mail").fill(f"dewi-{uuid.uuid4().hex[:8]}@example.com")
    page.get_by_label("Password (at least 8 characters)").fill("kopi-tubruk-42")
    page.get_by_label("Password again").fill("kopi-tubruk-42")
    page.get_by_role("button", name="Create an account").click()
    expect(page).to_have_url(url_ending("/cards/attach"))

    # A card already on someone else's account cannot be claimed, and gets no SMS.
    before_2 = len(demo_server.messages(CARD_2))
    page.get_by_label("Card number").fill(CARD_2)
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_role("alert")).to_contain_text("attached to another account")
    assert len(demo_server.messages(CARD_2)) == before_2

    seen = len(demo_server.messages(card))
    page.get_by_label("Card number").fill("0" + card.removeprefix("+62"))  # as people type it
    page.get_by_role("button", name="Send me a code").click()
    expect(page.get_by_text("We sent a 6-digit code by SMS")).to_be_visible()
    page.get_by_label("Code").fill(demo_server.next_code(card, seen))
    page.get_by_role("button", name="Attach the card").click()

    expect(page).to_have_url(url_ending(card_path(card)))
    expect(page.get_by_role("heading", level=1)).to_have_text(card)
    expect(page.locator(".balance")).to_have_text("Rp 0")
    expect(page.get_by_text("No active package")).to_be_visible()
    page.get_by_role("link", name="My cards").click()
    expect(page.get_by_role("link", name=card, exact=True)).to_be_visible()


def test_five_wrong_codes_spend_the_code_and_even_the_right_one_is_then_refused(
    page: Page, demo_server: DemoServer
) -> None:
    page.goto("/login")
    page.get_by_role("link", name="Sign in with a code sent to my card").click()
    seen = len(demo_server.messages(CARD_3))
    page.get_by_label("Card number").fill(CARD_3)
    page.get_by_role("button", name="Send me a code").click()
    right = demo_server.next_code(CARD_3, seen)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        page.get_by_label("Code").fill(wrong)
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text(f"wrong code; {left} tries left")
    challenge = page.locator("input[name=challenge]").input_value()
    token = page.locator("form[action='/login/code'] input[name=csrf_token]").input_value()

    page.get_by_label("Code").fill(wrong)
    page.get_by_role("button", name="Sign in", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_have_attribute("data-error", "too-many-attempts")
    expect(alert).to_contain_text("this code is spent")
    expect(page.get_by_label("Code")).to_have_count(0)  # back to asking for a new code
    expect(page.get_by_label("Card number")).to_be_visible()

    # The sixth try, with the right code, replayed with the old challenge: refused.
    sixth = page.request.post(
        "/login/code",
        form={"csrf_token": token, "challenge": challenge, "msisdn": CARD_3, "code": right},
        max_redirects=0,
    )
    assert sixth.status == 429, sixth.status
    assert 'data-error="too-many-attempts"' in sixth.text()
    page.goto("/cards")
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)cards$"))


def test_sign_in_with_a_code_sent_to_the_card_then_sign_out(
    page: Page, demo_server: DemoServer
) -> None:
    page.goto("/login")
    page.get_by_role("link", name="Sign in with a code sent to my card").click()
    seen = len(demo_server.messages(CARD_1))
    page.get_by_label("Card number").fill("0811 0000 0001")
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code").fill(demo_server.next_code(CARD_1, seen))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(url_ending("/cards"))
    expect(page.get_by_role("link", name=CARD_1, exact=True)).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(url_ending("/login"))
    page.goto("/cards")
    expect(page).to_have_url(re.compile(r"/login\?next=(%2F|/)cards$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_forgotten_password_reset_by_the_mailed_code_then_sign_in_with_the_new_one(
    page: Page, demo_server: DemoServer
) -> None:
    email = DEMO_USER_2[0]
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    seen = len(demo_server.messages(email))
    page.get_by_label("E-mail").fill(email)
    page.get_by_role("button", name="Send me a code").click()
    page.get_by_label("Code").fill(demo_server.next_code(email, seen))
    page.get_by_label("New password (at least 8 characters)").fill("teh-manis-2026")
    page.get_by_role("button", name="Set the new password").click()
    expect(page).to_have_url(url_ending("/cards"))
    expect(page.get_by_role("link", name=CARD_3, exact=True)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(DEMO_USER_2[1])
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()  # the old password is gone
    sign_in(page, (email, "teh-manis-2026"))


def test_keyboard_only_sign_in_tabs_to_the_fields_and_submits_with_enter(page: Page) -> None:
    page.goto("/login")
    focused = "document.activeElement && document.activeElement.id"
    for _ in range(40):
        page.keyboard.press("Tab")
        if page.evaluate(focused) == "username":
            break
    else:
        pytest.fail("Tab never reached the e-mail field")
    page.keyboard.type(DEMO_USER[0])
    page.keyboard.press("Tab")
    assert page.evaluate(focused) == "password"
    page.keyboard.type(DEMO_USER[1])
    page.keyboard.press("Enter")
    expect(page).to_have_url(url_ending("/cards"))


# -- renewing from the balance ----------------------------------------------------------


def test_renew_from_the_balance_confirms_and_the_dashboard_balance_drops_by_the_price(
    page: Page,
) -> None:
    sign_in(page)
    before = dashboard_balance(page, CARD_1)
    page.get_by_role("link", name="Renew", exact=True).click()
    choose(page, "Data 1 GB / 7 hari", "Main balance")
    page.get_by_role("button", name="Pay").click()

    expect(page).to_have_url(re.compile(r"/renewals/rnw_\w+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your package is active")
    expect(page.locator("dd.total")).to_have_text("Rp 15,000")
    expect(page.locator("dd.receipt-no")).to_have_text(re.compile(r"^KU-\d{4}-\w+$"))
    page.get_by_role("link", name="Back to the card").click()
    expect(page.locator(".balance")).to_have_attribute("data-balance", str(before - PRICE))
    package = page.locator(f"li.package[data-plan='{PLAN}']").first
    expect(package.get_by_role("progressbar", name="Quota left")).to_have_attribute(
        "aria-valuenow", "100"
    )


@pytest.mark.parametrize("javascript", [True, False], ids=["with-js", "without-js"])
def test_a_double_clicked_pay_charges_one_renewal(
    context_factory: Callable[..., BrowserContext], demo_server: DemoServer, javascript: bool
) -> None:
    page = context_factory(java_script_enabled=javascript).new_page()
    sign_in(page)
    rows_before = history_rows(page, CARD_1)
    before = demo_server.balance(CARD_1)
    open_renew(page, CARD_1)
    choose(page, "Data 1 GB / 7 hari", "Main balance")
    page.get_by_role("button", name="Pay").dblclick()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your package is active")
    assert demo_server.balance(CARD_1) == before - PRICE
    assert history_rows(page, CARD_1) == rows_before + 1


def _promotion(server: DemoServer, plan_codes: list[str] | None) -> str:
    code = f"HEMAT{uuid.uuid4().hex[:6].upper()}"
    now = datetime.now(UTC)
    with server.api() as api:
        created = api.post(
            "/api/v1/admin/promotions",
            headers=server.headers(ADMIN),
            json={
                "code": code,
                "kind": "percent",
                "value": 3333,  # 33.33 %: of Rp 15.000 that is Rp 4.999,50, half up Rp 5.000
                "starts_at": (now - timedelta(days=1)).isoformat(),
                "ends_at": (now + timedelta(days=30)).isoformat(),
                "plan_codes": plan_codes,
            },
        )
    assert created.status_code == 201, created.text
    return code


# Each plan's total at 33.33 % off, discounts rounded half up to the rupiah.
PROMO_TOTALS = {
    "Data 1 GB / 7 hari": ("Rp 15,000", "Rp 5,000", "Rp 10,000"),
    "Data 5 GB / 30 hari": ("Rp 50,000", "Rp 16,665", "Rp 33,335"),
    "Data 20 GB / 30 hari": ("Rp 120,000", "Rp 39,996", "Rp 80,004"),
}


@pytest.mark.parametrize(
    "plan_codes",
    [
        pytest.param(None, id="every-plan"),
        pytest.param([PLAN], id="one-plan"),
    ],
)
def test_a_promotion_code_shows_the_exact_discounted_total_before_paying_and_charges_it(
    page: Page, demo_server: DemoServer, plan_codes: list[str] | None
) -> None:
    code = _promotion(demo_server, plan_codes)
    sign_in(page)
    before = demo_server.balance(CARD_1)
    open_renew(page, CARD_1)
    page.get_by_label("Promotion code").fill(code.lower())
    page.get_by_role("button", name="Apply").click()

    for name, (was, off, total) in PROMO_TOTALS.items():
        offer = page.locator("label.offer", has_text=name)
        if plan_codes is None or name == "Data 1 GB / 7 hari":
            expect(offer.locator(".was")).to_have_text(was)
            expect(offer.locator(".promo-applied")).to_have_text(f"{code}: −{off}")
            expect(offer.locator(".total")).to_have_text(f"Total {total}")
        else:  # a plan outside the promotion keeps its price
            expect(offer.locator(".promo-applied")).to_have_count(0)
            expect(offer.locator(".total")).to_have_text(f"Total {was}")
    offer = page.locator("label.offer", has_text="Data 1 GB / 7 hari")
    expect(offer.locator(".total")).to_have_attribute("data-total", "1000000")
    expect(page.get_by_role("alert")).to_have_count(0)

    choose(page, "Data 1 GB / 7 hari", "Main balance")
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your package is active")
    expect(page.locator("dd.total")).to_have_text("Rp 10,000")
    expect(page.locator("dl.facts")).to_contain_text(f"−Rp 5,000 ({code})")
    assert demo_server.balance(CARD_1) == before - 1_000_000


# -- paying through the sandbox gateway -------------------------------------------------


def test_card_payment_approved_at_the_sandbox_checkout_activates_the_package(
    page: Page, demo_server: DemoServer
) -> None:
    sign_in(page)
    quota = quota_bytes(demo_server, CARD_2)
    balance = demo_server.balance(CARD_2)
    open_renew(page, CARD_2)
    choose(page, "Data 1 GB / 7 hari", "Bank card")
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/sandbox/checkout/pay_\w+$"))
    expect(page.locator(".amount")).to_have_text("Rp 15.000")
    page.locator("[data-action=approve]").click()

    expect(page).to_have_url(re.compile(r"/renewals/rnw_\w+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your package is active", timeout=FOLLOW_MS
    )
    assert quota_bytes(demo_server, CARD_2) == quota + GB
    assert demo_server.balance(CARD_2) == balance  # the bank card paid, not the balance


@pytest.mark.parametrize("action", ["decline", "abandon"])
def test_a_declined_or_abandoned_card_payment_changes_nothing(
    page: Page, demo_server: DemoServer, action: str
) -> None:
    sign_in(page)
    packages = demo_server.card(CARD_2)["packages"]
    balance = demo_server.balance(CARD_2)
    open_renew(page, CARD_2)
    choose(page, "Data 1 GB / 7 hari", "Bank card")
    page.get_by_role("button", name="Pay").click()
    page.locator(f"[data-action={action}]").click()
    expect(page).to_have_url(re.compile(r"/renewals/rnw_\w+$"))
    heading = page.get_by_role("heading", level=1)
    if action == "decline":
        expect(heading).to_have_text("The payment did not go through", timeout=FOLLOW_MS)
        expect(page.get_by_text("Nothing was charged and nothing changed.")).to_be_visible()
    else:
        # Closing the checkout is not a refusal: the payment stays open (until it
        # expires) and the page offers to go back to it, never a confirmation.
        expect(heading).to_have_text("Waiting for your payment")
        expect(page.get_by_role("link", name="Continue to payment")).to_be_visible()
        page.wait_for_timeout(2500)  # one round of the page following the payment
        expect(heading).to_have_text("Waiting for your payment")
    card = demo_server.card(CARD_2)
    assert card["packages"] == packages
    assert int(card["balance"]["amount"]) == balance


def test_qris_page_shows_the_code_and_moves_on_by_itself_once_paid_in_another_tab(
    page: Page, context: BrowserContext, demo_server: DemoServer
) -> None:
    sign_in(page)
    quota = quota_bytes(demo_server, CARD_2)
    open_renew(page, CARD_2)
    choose(page, "Data 1 GB / 7 hari", "QRIS")
    page.get_by_role("button", name="Pay").click()
    expect(page).to_have_url(re.compile(r"/renewals/rnw_\w+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Waiting for your payment")
    qr = page.get_by_role("img", name="QRIS code to pay Rp 15,000")
    expect(qr).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    assert qr.evaluate("img => img.naturalWidth") > 0

    bank = context.new_page()
    bank.goto(
        page.get_by_role("link", name="Demo: pay this QR in the sandbox bank").get_attribute("href")
        or ""
    )
    expect(bank.get_by_text("QRIS payload")).to_be_visible()
    bank.locator("[data-action=approve]").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your package is active", timeout=FOLLOW_MS
    )
    expect(page.get_by_role("img", name=re.compile("QRIS"))).to_have_count(0)
    assert quota_bytes(demo_server, CARD_2) == quota + GB


def test_top_up_by_e_wallet_approved_at_the_sandbox_grows_the_balance(
    page: Page, demo_server: DemoServer
) -> None:
    sign_in(page)
    before = dashboard_balance(page, CARD_2)
    page.get_by_role("link", name="Top up", exact=True).click()
    page.get_by_label("Rp 50,000").check()
    page.get_by_label("E-wallet").check()
    page.get_by_role("button", name="Pay").click()
    expect(page.locator(".amount")).to_have_text("Rp 50.000")
    page.locator("[data-action=approve]").click()
    expect(page).to_have_url(re.compile(r"/top-ups/top_\w+$"))
    # The credit arrives by the gateway's webhook; the dashboard shows it once it has.
    deadline = time.monotonic() + FOLLOW_MS / 1000
    while demo_server.balance(CARD_2) == before and time.monotonic() < deadline:
        time.sleep(0.2)
    page.goto(card_path(CARD_2))
    expect(page.locator(".balance")).to_have_attribute("data-balance", str(before + 5_000_000))


def test_the_top_up_page_waits_for_the_payment_then_confirms_the_credit(
    page: Page, demo_server: DemoServer
) -> None:
    sign_in(page)
    page.goto(f"{card_path(CARD_2)}/top-up")
    page.get_by_label("Rp 25,000").check()
    page.get_by_label("E-wallet").check()
    page.get_by_role("button", name="Pay").click()
    page.locator("[data-action=abandon]").click()  # back to kuota without paying yet
    expect(page).to_have_url(re.compile(r"/top-ups/top_\w+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Waiting for your payment")
    expect(page.locator("dd.total")).to_have_text("Rp 25,000")
    page.get_by_role("link", name="Continue to payment").click()
    page.locator("[data-action=approve]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Your balance was topped up", timeout=FOLLOW_MS
    )


# -- history, receipts, verification ----------------------------------------------------


def _api_renewal(server: DemoServer, msisdn: str, method: str) -> dict[str, Any]:
    with server.api() as api:
        answer = api.post(
            "/api/v1/renewals",
            headers={**server.headers(DEMO_USER), "Idempotency-Key": uuid.uuid4().hex},
            json={"msisdn": msisdn, "plan_code": PLAN, "payment_method": method},
        )
    assert answer.status_code == 201, answer.text
    sale: dict[str, Any] = answer.json()
    return sale


def _declined_renewal(server: DemoServer) -> str:
    """A card renewal the payer declined at the sandbox, settled by its webhook."""
    sale = _api_renewal(server, CARD_2, "card")
    checkout = sale["payment"]["next_action"]["url"]
    httpx.post(checkout, data={"action": "decline"}, timeout=10)
    deadline = time.monotonic() + FOLLOW_MS / 1000
    with server.api() as api:
        while time.monotonic() < deadline:
            answer = api.get(f"/api/v1/renewals/{sale['id']}", headers=server.headers(DEMO_USER))
            if answer.json()["status"] == "failed":
                return str(sale["id"])
            time.sleep(0.1)
    raise AssertionError(f"renewal {sale['id']} never failed")


def test_history_filters_by_kind_and_status_and_exports_the_same_rows_as_csv(
    page: Page, demo_server: DemoServer, tmp_path: Path
) -> None:
    paid = _api_renewal(demo_server, CARD_1, "balance")
    failed = _declined_renewal(demo_server)
    sign_in(page)
    page.get_by_role("link", name="History").click()
    expect(page.get_by_role("link", name=paid["receipt_no"])).to_be_visible()

    page.get_by_label("Kind").select_option("renewal")
    page.get_by_label("Status").select_option("failed")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"kind=renewal&status=failed"))
    rows = page.locator("table.history tbody tr")
    expect(rows.first).to_be_visible()
    shown = rows.count()
    for i in range(shown):
        expect(rows.nth(i)).to_have_attribute("data-kind", "renewal")
        expect(rows.nth(i)).to_have_attribute("data-status", "failed")
    expect(page.locator(f"a[href='/renewals/{failed}']")).to_have_count(1)
    expect(page.get_by_role("link", name=paid["receipt_no"])).to_have_count(0)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export as CSV").click()
    assert download.value.suggested_filename == "kuota-history.csv"
    saved = tmp_path / "history.csv"
    download.value.save_as(saved)
    table = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8"))))
    assert table[0] == [
        "created_at",
        "kind",
        "id",
        "msisdn",
        "plan",
        "payment_method",
        "status",
        "payment_status",
        "total_idr",
        "receipt_no",
    ]
    body = table[1:]
    assert len(body) == shown
    assert all(row[1] == "renewal" and row[6] == "failed" for row in body)
    mine = next(row for row in body if row[2] == failed)
    assert mine[3:6] == [CARD_2, "Data 1 GB / 7 hari", "card"]
    assert mine[8:] == ["15000", ""]

    # Unfiltered: the paid renewal is there with its receipt and whole rupiah.
    everything = page.request.get("/history.csv")
    assert everything.ok
    paid_row = next(r for r in csv.reader(io.StringIO(everything.text())) if r[2] == paid["id"])
    assert paid_row[6:] == ["fulfilled", "succeeded", "15000", paid["receipt_no"]]


def test_receipt_pdf_download_and_its_verify_link(
    page: Page, context: BrowserContext, demo_server: DemoServer, tmp_path: Path
) -> None:
    sign_in(page)
    open_renew(page, CARD_1)
    choose(page, "Data 1 GB / 7 hari", "Main balance")
    page.get_by_role("button", name="Pay").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your package is active")
    receipt_no = page.locator("dd.receipt-no").inner_text()

    # The receipt in Bahasa Indonesia, as most buyers get it.
    context.add_cookies([{"name": "kuota_lang", "value": "id", "url": demo_server.url}])
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the receipt (PDF)").click()
    assert download.value.suggested_filename == f"{receipt_no}.pdf"
    saved = tmp_path / "receipt.pdf"
    download.value.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    text = "\n".join(p.extract_text() or "" for p in PdfReader(saved).pages)
    assert receipt_no in text
    assert "Rp 15.000" in text
    assert "+62811****0001" in text
    assert CARD_1 not in text and CARD_1.removeprefix("+") not in text
    context.add_cookies([{"name": "kuota_lang", "value": "en", "url": demo_server.url}])

    page.get_by_role("link", name="Check it is genuine").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Genuine receipt")
    expect(page.locator("main")).to_contain_text(receipt_no)
    expect(page.locator("main")).to_contain_text("Rp 15,000")
    assert CARD_1 not in page.content() and "Siti" not in page.content()

    genuine = urlsplit(page.url)
    code = parse_qs(genuine.query)["c"][0]
    forged_code = code[:-1] + ("A" if code[-1] != "A" else "B")
    answer = page.goto(f"{genuine.path}?c={forged_code}")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not a genuine receipt")
    expect(page.locator("main")).to_contain_text(receipt_no)


# -- languages and small screens ----------------------------------------------------------


def test_the_language_links_switch_html_lang_and_the_choice_is_remembered(page: Page) -> None:
    page.goto("/login")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "en")
    for name, lang, elsewhere in (
        ("中文", "zh", "/plans"),
        ("English", "en", "/register"),
        ("Bahasa Indonesia", "id", "/"),
    ):
        page.get_by_role("navigation", name=re.compile("Language|语言|Bahasa")).get_by_role(
            "link", name=name
        ).click()
        expect(page).to_have_url(re.compile(rf"\?lang={lang}$"))
        expect(html).to_have_attribute("lang", lang)
        page.goto(elsewhere)  # no ?lang: the cookie remembers
        expect(html).to_have_attribute("lang", lang)
        page.goto("/login")


def test_the_pages_are_written_in_the_chosen_language(page: Page) -> None:
    page.goto("/login?lang=zh")
    expect(page.locator("html")).to_have_attribute("lang", "zh")
    assert re.search(r"[\u4e00-\u9fff]", page.get_by_role("heading", level=1).inner_text())
    page.goto("/login?lang=id")
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Sign in")


def _fits(page: Page, path: str) -> int:
    page.goto(path)
    return int(page.evaluate("document.documentElement.scrollWidth"))


def test_every_main_page_fits_a_360_px_phone(page: Page, demo_server: DemoServer) -> None:
    public = [
        "/",
        "/plans",
        "/login",
        "/login/code",
        "/register",
        "/password/forgot",
        "/verify",
        "/authorised?code=RTL-0001",
        "/dev/mailbox",
        "/verify/KU-0000-FORGED?c=XXXX",
    ]
    too_wide = {path: w for path in public if (w := _fits(page, path)) > 360}
    paid = _api_renewal(demo_server, CARD_1, "balance")
    waiting = _api_renewal(demo_server, CARD_2, "qris")
    sign_in(page)
    page.goto(f"/renewals/{paid['id']}")
    page.get_by_role("link", name="Check it is genuine").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Genuine receipt")
    verified = urlsplit(page.url)
    private = [
        "/cards",
        card_path(CARD_1),
        f"{card_path(CARD_1)}/renew",
        f"{card_path(CARD_1)}/top-up",
        "/cards/attach",
        "/history",
        f"/renewals/{paid['id']}",
        f"/renewals/{waiting['id']}",
        f"{verified.path}?{verified.query}",
    ]
    too_wide |= {path: w for path in private if (w := _fits(page, path)) > 360}
    assert too_wide == {}
