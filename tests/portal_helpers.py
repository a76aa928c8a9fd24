"""Driving the portal's forms over HTTP, as a browser would, without a browser."""

from __future__ import annotations

import re

import httpx
from fastapi.testclient import TestClient

from kuota.notify.delivery import senders_for
from kuota.notify.worker import deliver_due

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_KEY = re.compile(r'name="idempotency_key" value="([^"]+)"')
_CHALLENGE = re.compile(r'name="challenge" value="([^"]+)"')

ALICE = ("demo@kuota.example", "demo-user-1")
BOB = ("demo2@kuota.example", "demo-user-2")
ALICE_CARD = "+6281100000001"
BOB_CARD = "+6281100000003"


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


def key_of(html: str) -> str:
    found = _KEY.search(html)
    assert found, "the page has no idempotency key"
    return found.group(1)


def challenge_of(html: str) -> str:
    found = _CHALLENGE.search(html)
    assert found, "the page has no code challenge"
    return found.group(1)


def sign_in(
    client: TestClient, who: tuple[str, str] = ALICE, next_page: str = ""
) -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"csrf_token": token, "username": who[0], "password": who[1], "next": next_page},
        follow_redirects=False,
    )


def renew(
    client: TestClient, msisdn: str = ALICE_CARD, plan: str = "DATA-1GB-7D", method: str = "balance"
) -> httpx.Response:
    page = client.get(f"/cards/{msisdn}/renew")
    assert page.status_code == 200, page.text
    return client.post(
        f"/cards/{msisdn}/renew",
        data={
            "csrf_token": csrf_of(page.text),
            "idempotency_key": key_of(page.text),
            "plan_code": plan,
            "payment_method": method,
        },
        follow_redirects=False,
    )


def deliver_outbox(client: TestClient) -> None:
    """What the worker does in `kuota demo`: due messages into the local mailbox."""
    app = client.app
    settings = app.state.context.settings  # type: ignore[attr-defined]
    db = app.state.db  # type: ignore[attr-defined]
    deliver_due(db, senders_for(settings, db), max_attempts=3)


def last_code(client: TestClient, to: str) -> str:
    deliver_outbox(client)
    messages = client.get("/api/v1/test/messages", params={"to": to}).json()
    found = re.search(r"\b(\d{6})\b", messages[0]["body"])
    assert found, messages[0]
    return found.group(1)
