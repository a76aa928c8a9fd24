"""Driving the kiosk page as its operator and its customers do, for the kiosk's browser
tests and the screenshot script: the setup screen, the on-screen number pad, the plan
and payment buttons, and the sandbox card terminal or bank that the customer pays at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page, ViewportSize, expect

from e2e.web.portal_demo import DemoServer

KIOSK_KEY = "demo-kiosk-key-1"  # CONTRACT.md's demo kiosk KSK-0001
KIOSK_HEADERS = {"X-Kiosk-Key": KIOSK_KEY}
PRINTER_FILE = "kiosk-KSK-0001.escpos"  # its printer, relative to the server's directory
PORTRAIT: ViewportSize = {"width": 1080, "height": 1920}
LANDSCAPE: ViewportSize = {"width": 1280, "height": 800}
ESC_INIT = b"\x1b@"  # ESC @ starts every ESC/POS receipt
PAYMENT_MS = 30_000  # a sandbox payment reaches the kiosk by webhook and a 2 s poll


def screen(page: Page, name: str) -> Any:
    return page.locator(f'section[data-screen="{name}"]')


def open_kiosk(page: Page, query: str = "") -> None:
    """Open the kiosk; on a device that has no key yet, the operator types it once."""
    page.goto(f"/kiosk{query}")
    expect(page.locator("#kiosk")).not_to_have_attribute("data-screen", "boot")
    if page.locator("#kiosk").get_attribute("data-screen") == "setup":
        page.locator("#kiosk-key").fill(KIOSK_KEY)
        screen(page, "setup").get_by_role("button").click()
    expect(screen(page, "start")).to_be_visible()


def type_number(page: Page, digits: str) -> None:
    """Tap the number on the on-screen pad, key by key."""
    for key in digits:
        page.locator(f'.pad button[data-key="{key}"]').click()


def look_up(page: Page, digits: str) -> None:
    """From the start screen: start, type the card number, continue to the plans."""
    screen(page, "start").locator('[data-do="begin"]').click()
    type_number(page, digits)
    screen(page, "number").locator('[data-do="look-up"]').click()
    expect(screen(page, "plans")).to_be_visible()


def choose(page: Page, plan_code: str, method: str) -> str:
    """Choose a plan and a way to pay; answers the payment id once the kiosk waits for it."""
    screen(page, "plans").locator(f'[data-plan="{plan_code}"]').click()
    screen(page, "pay").locator(f'[data-method="{method}"]').click()
    waiting = screen(page, "wait")
    expect(waiting).to_be_visible()
    payment_id = waiting.get_attribute("data-payment-id")
    assert payment_id, "the waiting screen names its payment"
    return payment_id


def pay_at_sandbox(context: BrowserContext, payment_id: str, action: str) -> None:
    """The customer's bank app (QRIS) or the card terminal answers, in another tab."""
    bank = context.new_page()
    try:
        bank.goto(f"/sandbox/checkout/{payment_id}")
        bank.locator(f'[data-action="{action}"]').click()
        bank.wait_for_load_state()
    finally:
        bank.close()


def printer_bytes(server: DemoServer) -> bytes:
    path = Path(server.db_path).parent / PRINTER_FILE
    return path.read_bytes() if path.exists() else b""


def receipts_printed(server: DemoServer, receipt_no: str) -> int:
    """How many printed receipts carry this number (it appears more than once on one:
    in its own line and in the verification QR code and address)."""
    receipts = printer_bytes(server).split(ESC_INIT)[1:]
    return sum(receipt_no.encode() in receipt for receipt in receipts)
