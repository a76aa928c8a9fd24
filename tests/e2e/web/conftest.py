"""The portal in a real browser: Debian's Chromium driven by Playwright against a real
`kuota demo` process (web server, outbox worker, sandbox webhooks).

One demo server per test module, on a database of its own: tests in a module share it,
so they assert on changes (a balance before and after), never on absolute balances
left by another test. Each test gets a fresh browser context (no cookies), a cheap
phone's 360 × 740 viewport and English as its remembered language.

Playwright never downloads a browser here: without /usr/bin/chromium the tests skip,
and fail under CI=true (scripts/system-deps installs it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    ViewportSize,
    sync_playwright,
)

from e2e.web.portal_demo import DemoServer, prepare_database, start_demo

from conftest import Backend

CHROMIUM = Path("/usr/bin/chromium")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PHONE: ViewportSize = {"width": 360, "height": 740}
TIMEOUT_MS = 15_000


def _need_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing: scripts/system-deps installs Debian's chromium"
    if IN_CI:
        pytest.fail(f"{message} (CI=true requires it)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    _need_chromium()
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
    )
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def demo_server(
    sqlite_backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoServer]:
    """`kuota demo` on a fresh copy of the demo data (plus one unattached card)."""
    _need_chromium()  # no browser: do not pay for a server either
    db_path = tmp_path_factory.mktemp("portal") / "demo.db"
    prepare_database(db_path, migrated=Path(sqlite_backend.template))
    server = start_demo(db_path)
    yield server
    server.stop()


def new_context(browser: Browser, server: DemoServer, **options: Any) -> BrowserContext:
    settings: dict[str, Any] = {"viewport": PHONE, "accept_downloads": True, **options}
    context = browser.new_context(base_url=server.url, **settings)
    # The message catalogs may change every label; the tests read the English ones.
    context.add_cookies([{"name": "kuota_lang", "value": "en", "url": server.url}])
    context.set_default_timeout(TIMEOUT_MS)
    return context


@pytest.fixture
def context(browser: Browser, demo_server: DemoServer) -> Iterator[BrowserContext]:
    fresh = new_context(browser, demo_server)
    yield fresh
    fresh.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def context_factory(
    browser: Browser, demo_server: DemoServer
) -> Iterator[Callable[..., BrowserContext]]:
    """Contexts with other options (`java_script_enabled=False`, another viewport)."""
    made: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        made.append(new_context(browser, demo_server, **options))
        return made[-1]

    yield make
    for context in made:
        context.close()
