"""Screenshots of the subscriber portal for the docs, run by scripts/screenshots.

Starts `kuota demo` on a free port with a database in a temporary directory, walks the
portal in Debian's Chromium on a 390 × 844 phone as the demo subscriber does (a
renewal, some data used, a QRIS payment left open), then a store's point of sale on a
1280 × 800 till, and writes docs/screenshots/*.png.
Never downloads a browser: /usr/bin/chromium must be there (scripts/system-deps).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

TESTS = Path(__file__).resolve().parents[2]
ROOT = TESTS.parent
sys.path.insert(0, str(TESTS))

from playwright.sync_api import Page, ViewportSize, expect, sync_playwright  # noqa: E402

from e2e.web.kiosk_helpers import choose, look_up, open_kiosk, screen, type_number  # noqa: E402
from e2e.web.portal_demo import (  # noqa: E402
    CARD_1,
    CARD_2,
    DEMO_USER,
    DemoServer,
    prepare_database,
    start_demo,
)

CHROMIUM = "/usr/bin/chromium"
PHONE: ViewportSize = {"width": 390, "height": 844}
TILL: ViewportSize = {"width": 1280, "height": 800}
RETAIL_STAFF = ("toko-melati", "demo-retail-1")  # CONTRACT.md's demo store
CARD_1_NIK = "3171010101900001"
KIOSK_PORTRAIT: ViewportSize = {"width": 800, "height": 1280}
KIOSK_LANDSCAPE: ViewportSize = {"width": 1280, "height": 800}
NETWORK_KEY = "demo-network-key-1"  # CONTRACT.md's demo network element


def use_data(server: DemoServer, msisdn: str, used_bytes: int) -> None:
    """A data session on the card, as the packet gateway reports it by credit control."""
    session_id = f"shots-{uuid.uuid4().hex[:8]}"
    with server.api() as api:
        for number, kind, extra in (
            (0, "initial", {"requested_bytes": used_bytes}),
            (1, "terminate", {"used_bytes": used_bytes}),
        ):
            answer = api.post(
                "/api/v1/credit-control",
                headers={"X-Network-Key": NETWORK_KEY},
                json={
                    "session_id": session_id,
                    "msisdn": msisdn,
                    "request_type": kind,
                    "request_number": number,
                    **extra,
                },
            )
            answer.raise_for_status()


def take(server: DemoServer, out: Path) -> list[Path]:
    card = f"/cards/{quote(CARD_1)}"
    written: list[Path] = []

    def shot(page: Page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        path = out / f"{name}.png"
        page.screenshot(path=str(path))
        written.append(path)

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        context = browser.new_context(base_url=server.url, viewport=PHONE)
        context.add_cookies([{"name": "kuota_lang", "value": "en", "url": server.url}])
        page = context.new_page()
        for name, path in (("home", "/"), ("plans", "/plans"), ("login", "/login")):
            page.goto(path)
            shot(page, name)

        page.get_by_label("E-mail").fill(DEMO_USER[0])
        page.get_by_label("Password").fill(DEMO_USER[1])
        page.get_by_role("button", name="Sign in", exact=True).click()
        expect(page).to_have_url(f"{server.url}/cards")

        page.goto(f"{card}/renew")
        page.get_by_label("Data 5 GB / 30 hari").check()
        shot(page, "renew")
        page.get_by_role("button", name="Pay").click()
        expect(page.locator("dd.receipt-no")).to_be_visible()
        page.get_by_role("link", name="Check it is genuine").click()
        expect(page.locator("[data-verdict=genuine]")).to_be_visible()
        shot(page, "verify")

        use_data(server, CARD_1, 1_750_000_000)
        page.goto(card)
        shot(page, "dashboard")
        page.goto(f"{card}?lang=zh")
        shot(page, "dashboard-zh")
        page.goto(f"{card}?lang=en")

        page.goto(f"/cards/{quote(CARD_2)}/renew")
        page.get_by_label("Data 1 GB / 7 hari").check()
        page.get_by_label("QRIS", exact=True).check()
        page.get_by_role("button", name="Pay").click()
        qr = page.locator("img.qr")
        expect(qr).to_be_visible()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=qr.element_handle()
        )
        shot(page, "qris")

        page.goto("/history")
        shot(page, "history")

        # The store's point of sale, on a till's 1280 px screen.
        till = browser.new_context(base_url=server.url, viewport=TILL)
        till.add_cookies([{"name": "kuota_lang", "value": "en", "url": server.url}])
        counter = till.new_page()
        counter.goto("/login?next=/pos")
        counter.get_by_label("E-mail").fill(RETAIL_STAFF[0])
        counter.get_by_label("Password").fill(RETAIL_STAFF[1])
        counter.get_by_role("button", name="Sign in", exact=True).click()
        expect(counter).to_have_url(f"{server.url}/pos")
        counter.get_by_label("Card number").fill(CARD_1)
        counter.keyboard.press("Enter")
        expect(counter.locator(".owner-name")).to_be_visible()
        counter.get_by_label("NIK on the customer's identity card (KTP)").fill(CARD_1_NIK)
        counter.get_by_label("Data 5 GB / 30 hari").check()
        counter.get_by_label("Cash received from the customer").check()
        counter.evaluate("window.scrollTo(0, 0)")
        shot(counter, "pos-counter")
        counter.get_by_role("button", name="Sell").click()
        expect(counter.locator("pre.receipt")).to_be_visible()
        shot(counter, "pos-receipt")
        browser.close()
    return written


def take_kiosk(server: DemoServer, out: Path) -> list[Path]:
    """The kiosk as a customer meets it: the start screen, the plans for their card
    (masked owner name) and the QRIS code to scan; the number pad in landscape."""
    written: list[Path] = []

    def shot(page: Page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        path = out / f"kiosk-{name}.png"
        page.screenshot(path=str(path))
        written.append(path)

    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        context = browser.new_context(base_url=server.url, viewport=KIOSK_PORTRAIT)
        page = context.new_page()
        open_kiosk(page)
        shot(page, "start")
        look_up(page, "0" + CARD_2.removeprefix("+62"))
        shot(page, "plans")
        choose(page, "DATA-1GB-7D", "qris")
        qr = screen(page, "wait").locator("img.qr")
        expect(qr).to_be_visible()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=qr.element_handle()
        )
        shot(page, "qris")
        screen(page, "wait").locator('[data-do="abandon"]').click()
        expect(screen(page, "start")).to_be_visible()

        page.set_viewport_size(KIOSK_LANDSCAPE)
        screen(page, "start").locator('[data-do="begin"]').click()
        type_number(page, "0" + CARD_2.removeprefix("+62")[:6])
        shot(page, "number-landscape")
        browser.close()
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", choices=("portal", "kiosk"), help="take one set only")
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: run scripts/system-deps", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kuota-shots-") as tmp:
        db_path = Path(tmp) / "demo.db"
        prepare_database(db_path)
        server = start_demo(db_path)
        try:
            written = [] if args.only == "kiosk" else take(server, args.out)
            if args.only != "portal":
                written += take_kiosk(server, args.out)
        finally:
            server.stop()
    for path in written:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
