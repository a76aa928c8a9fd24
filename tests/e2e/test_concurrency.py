"""Exactly-once under real concurrency: server processes, many clients at once."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from kuota.auth.models import User
from kuota.cards.models import Card
from kuota.catalog import promotions
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.principal import Principal
from kuota.ledger import service as ledger
from kuota.usage.models import Package

from factories import make_card, rupiah
from http_helpers import login

pytestmark = pytest.mark.slow
PLAN_PRICE = 1_500_000


def fire(
    url: str, headers: dict[str, str], bodies: list[dict[str, Any]], keys: list[str]
) -> list[httpx.Response]:
    """Send every request at the same instant, one client each."""
    barrier = threading.Barrier(len(bodies))

    def one(index: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=60) as client:
            barrier.wait()
            return client.post(
                "/api/v1/renewals",
                json=bodies[index],
                headers={**headers, "Idempotency-Key": keys[index]},
            )

    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        return list(pool.map(one, range(len(bodies))))


def balance_of(db: Database, msisdn: str) -> int:
    with db.unit_of_work(write=False) as s:
        card_id = s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one()
        return ledger.card_balance(s, card_id).amount


def package_count(db: Database, msisdn: str) -> int:
    with db.unit_of_work(write=False) as s:
        return len(
            s.execute(
                select(Package.id)
                .join(Card, Card.id == Package.card_id)
                .where(Card.msisdn == msisdn)
            ).all()
        )


def demo_user(db: Database) -> Principal:
    with db.unit_of_work(write=False) as s:
        user_id = s.execute(
            select(User.id).where(User.username == "demo@kuota.example")
        ).scalar_one()
    return Principal(kind="user", id=user_id, name="demo@kuota.example")


def body(msisdn: str, promo: str | None = None) -> dict[str, Any]:
    return {
        "msisdn": msisdn,
        "plan_code": "DATA-1GB-7D",
        "payment_method": "balance",
        "promo_code": promo,
    }


def test_twenty_concurrent_replays_debit_once(
    demo_db: Database, live_server: Callable[[int], str]
) -> None:
    url = live_server(2)
    headers = login(httpx.Client(base_url=url), "demo@kuota.example", "demo-user-1")
    msisdn = "+6281100000001"
    before = balance_of(demo_db, msisdn)
    answers = fire(url, headers, [body(msisdn)] * 20, ["same-key"] * 20)
    assert {a.status_code for a in answers} == {201}
    assert len({a.content for a in answers}) == 1, "every replay returns the first answer"
    assert balance_of(demo_db, msisdn) == before - PLAN_PRICE
    assert package_count(demo_db, msisdn) == 1


def test_fifty_concurrent_renewals_against_a_balance_for_seven(
    demo_db: Database, ctx: Context, live_server: Callable[[int], str]
) -> None:
    msisdn = "+6281100000002"
    with demo_db.unit_of_work() as s:
        card_id = s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one()
        ledger.move_guarded(
            s,
            ctx,
            account_id=ledger.card_account_id(s, card_id),
            amount=rupiah(110_000),
            house="balance_adjustments",
            kind="adjustment",
            reference=msisdn,
            memo="test",
        )
    url = live_server(2)
    headers = login(httpx.Client(base_url=url), "demo@kuota.example", "demo-user-1")
    answers = fire(url, headers, [body(msisdn)] * 50, [f"k-{i}" for i in range(50)])
    statuses = Counter(a.status_code for a in answers)
    assert statuses == {201: 7, 402: 43}, statuses
    refused = [a.json() for a in answers if a.status_code == 402]
    assert all("less than the Rp 15.000" in r["detail"] for r in refused)
    assert balance_of(demo_db, msisdn) == rupiah(110_000 - 7 * 15_000).amount
    with demo_db.unit_of_work(write=False) as s:
        [package] = (
            s.execute(
                select(Package).join(Card, Card.id == Package.card_id).where(Card.msisdn == msisdn)
            )
            .scalars()
            .all()
        )
    # Seven purchases of one plan: one package, extended six times.
    assert package.quota_total_bytes == 7 * 10**9


def test_promotion_limits_hold_under_concurrency(
    demo_db: Database, ctx: Context, live_server: Callable[[int], str]
) -> None:
    owner = demo_user(demo_db)
    with demo_db.unit_of_work() as s:
        numbers = [make_card(s, ctx, owner, balance=50_000) for _ in range(16)]
        promotions.create_promotion(
            s,
            code="FIVE",
            kind="percent",
            value=5000,
            currency="IDR",
            starts_at=ctx.clock.now() - timedelta(days=1),
            ends_at=ctx.clock.now() + timedelta(days=30),
            plan_codes=None,
            channels=None,
            max_redemptions=5,
            max_per_card=None,
            now=ctx.clock.now(),
        )
        promotions.create_promotion(
            s,
            code="TWICE",
            kind="fixed",
            value=100_000,
            currency="IDR",
            starts_at=ctx.clock.now() - timedelta(days=1),
            ends_at=ctx.clock.now() + timedelta(days=30),
            plan_codes=None,
            channels=None,
            max_redemptions=None,
            max_per_card=2,
            now=ctx.clock.now(),
        )
    url = live_server(2)
    headers = login(httpx.Client(base_url=url), "demo@kuota.example", "demo-user-1")
    total_limited = fire(
        url, headers, [body(n, "FIVE") for n in numbers], [f"five-{i}" for i in range(16)]
    )
    assert Counter(a.status_code for a in total_limited) == {201: 5, 422: 11}
    assert all(
        "fully redeemed" in a.json()["detail"] for a in total_limited if a.status_code == 422
    )
    per_card = fire(
        url, headers, [body(numbers[0], "TWICE")] * 12, [f"twice-{i}" for i in range(12)]
    )
    assert Counter(a.status_code for a in per_card) == {201: 2, 422: 10}
    paid = sum(rupiah(50_000).amount - balance_of(demo_db, n) for n in numbers)
    assert paid == 5 * 750_000 + 2 * 1_400_000
