"""Paying through a gateway, end to end over HTTP with the sandbox gateway: the payer's
checkout, signed webhooks (forged, replayed, duplicated, out of order, unknown), timeouts
that leave a payment unknown until the reconciling job settles it, late successes,
refunds and top-ups. Every test ends with `kuota ledger check` clean (the db fixture)."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from kuota.api.app import create_app
from kuota.cards.models import Card, CardStatus
from kuota.core.clock import FixedClock, real_now
from kuota.core.config import Settings
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.ledger import service as ledger
from kuota.ledger.models import Account, JournalLine
from kuota.notify.models import OutboxMessage
from kuota.payments import jobs, webhooks
from kuota.payments.gateway import CheckoutRequest, GatewayStatus, NextAction
from kuota.payments.models import Payment, PaymentEvent, SandboxOrder
from kuota.payments.providers import Gateways
from kuota.payments.qris import parse_qris
from kuota.payments.sandbox import SandboxGateway, SandboxSettings
from kuota.usage.models import Package

from http_helpers import login

CARD1 = "+6281100000001"
USER1 = ("demo@kuota.example", "demo-user-1")
WEBHOOK_SECRET = webhooks.new_secret()
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "midtrans"


@dataclass
class Shop:
    client: TestClient
    sandbox: SandboxGateway
    gateways: Gateways
    db: Database
    ctx: Context
    clock: FixedClock
    user: dict[str, str]

    def post(self, url: str, headers: dict[str, str], body: bytes) -> int:
        return self.client.post(urlsplit(url).path, headers=headers, content=body).status_code

    def deliver(self) -> int:
        return self.sandbox.deliver_due(self.post)

    def renew(self, method: str = "card", **over: Any) -> dict[str, Any]:
        body = {"msisdn": CARD1, "plan_code": "DATA-1GB-7D", "payment_method": method, **over}
        answer = self.client.post(
            "/api/v1/renewals",
            json=body,
            headers={**self.user, "Idempotency-Key": str(uuid.uuid4())},
        )
        assert answer.status_code == 201, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def payer(self, order_id: str, action: str) -> str:
        answer = self.client.post(
            f"/sandbox/checkout/{order_id}", data={"action": action}, follow_redirects=False
        )
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    def renewal(self, renewal_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.client.get(
            f"/api/v1/renewals/{renewal_id}", headers=self.user
        ).json()
        return result

    def check(self) -> jobs.JobStats:
        return jobs.check_open_payments(self.db, self.ctx, self.gateways)

    def balance(self) -> int:
        card = self.client.get(f"/api/v1/cards/{CARD1}", headers=self.user).json()
        return int(card["balance"]["amount"])

    def packages(self) -> int:
        with self.db.unit_of_work(write=False) as s:
            return int(s.execute(select(func.count()).select_from(Package)).scalar_one())

    def events(self, payment_id: str) -> list[tuple[str | None, str, str]]:
        with self.db.unit_of_work(write=False) as s:
            rows = s.execute(
                select(PaymentEvent.from_status, PaymentEvent.to_status, PaymentEvent.actor)
                .where(PaymentEvent.payment_id == payment_id)
                .order_by(PaymentEvent.id)
            ).all()
        return [(r[0], r[1], r[2]) for r in rows]

    def house_balance(self, name: str) -> int:
        with self.db.unit_of_work(write=False) as s:
            total = s.execute(
                select(func.coalesce(func.sum(JournalLine.amount), 0))
                .join(Account, Account.id == JournalLine.account_id)
                .where(Account.code == f"house:{name}:IDR")
            ).scalar_one()
        return int(total)


@pytest.fixture
def shop(demo_db: Database, settings: Settings, clock: FixedClock) -> Iterator[Shop]:
    sandbox = SandboxGateway(
        demo_db, SandboxSettings(public_url=settings.public_url, webhook_secret=WEBHOOK_SECRET)
    )
    gateways = Gateways({"sandbox": sandbox}, default="sandbox")
    app = create_app(settings, db=demo_db, clock=clock, gateways=gateways)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Shop(
            client=client,
            sandbox=sandbox,
            gateways=gateways,
            db=demo_db,
            ctx=app.state.context,
            clock=clock,
            user=login(client, *USER1),
        )


def test_card_payment_approved_at_the_checkout_is_fulfilled_once(shop: Shop) -> None:
    started = shop.renew("card")
    payment = started["payment"]
    assert started["status"] == "pending_payment" and payment["status"] == "pending"
    assert payment["next_action"]["kind"] == "redirect"
    page = shop.client.get(urlsplit(payment["next_action"]["url"]).path)
    for action in ("approve", "decline", "abandon"):
        assert f'data-action="{action}"' in page.text
    back = shop.payer(payment["id"], "approve")
    assert urlsplit(back).path == f"/payments/{payment['id']}/return"
    assert shop.deliver() == 1
    done = shop.renewal(started["id"])
    assert done["status"] == "fulfilled" and done["receipt_no"]
    assert done["payment"]["status"] == "succeeded" and done["payment"]["next_action"] is None
    assert shop.balance() == 20_000_000  # paid by card, not from the balance
    assert shop.packages() == 1
    assert shop.house_balance("clearing:sandbox") == 1_500_000
    assert [e[1] for e in shop.events(payment["id"])] == ["pending", "succeeded"]
    landed = shop.client.get(urlsplit(back).path)
    assert 'data-status="succeeded"' in landed.text


def test_declined_card_fails_the_renewal_and_charges_nothing(shop: Shop) -> None:
    started = shop.renew("card")
    shop.payer(started["payment"]["id"], "decline")
    shop.deliver()
    failed = shop.renewal(started["id"])
    assert failed["status"] == "failed" and failed["payment"]["status"] == "failed"
    assert shop.packages() == 0 and shop.balance() == 20_000_000
    assert shop.house_balance("clearing:sandbox") == 0


def test_abandoned_checkout_expires_through_the_reconciling_job(shop: Shop) -> None:
    started = shop.renew("ewallet")
    shop.payer(started["payment"]["id"], "abandon")
    assert shop.deliver() == 0
    assert shop.check().checked == 0  # not due before its expiry
    shop.clock.advance(timedelta(minutes=16))
    stats = shop.check()
    assert stats.checked == 1 and stats.settled == 1
    assert shop.renewal(started["id"])["status"] == "failed"
    assert shop.renewal(started["id"])["payment"]["status"] == "expired"


def signed(body: dict[str, Any], *, secret: str = WEBHOOK_SECRET, age: int = 0) -> tuple:
    raw = orjson.dumps(body)
    stamp = int(real_now().timestamp()) - age
    return raw, webhooks.signed_headers(secret, f"msg_{uuid.uuid4().hex}", stamp, raw)


def notification(order_id: str, status: str = "succeeded") -> dict[str, Any]:
    return {
        "id": "evt",
        "type": f"payment.{status}",
        "data": {
            "order_id": order_id,
            "transaction_id": "sbx_x",
            "status": status,
            "amount": {"amount": 1_500_000, "currency": "IDR"},
        },
    }


def test_forged_and_replayed_webhooks_are_refused_and_change_nothing(shop: Shop) -> None:
    started = shop.renew("card")
    order = started["payment"]["id"]
    shop.sandbox.payer_acts(order, "approve")  # paid at the gateway; kuota not yet told
    url = "/api/v1/payments/webhooks/sandbox"
    body, headers = signed(notification(order), secret=webhooks.new_secret())
    forged = shop.client.post(url, content=body, headers=headers)
    assert forged.status_code == 401 and "signature" in forged.json()["detail"]
    body, headers = signed(notification(order), age=6 * 60)
    replayed = shop.client.post(url, content=body, headers=headers)
    assert replayed.status_code == 401 and "replay" in replayed.json()["detail"]
    body, headers = signed(notification(order))
    tampered = shop.client.post(url, content=body + b" ", headers=headers)
    assert tampered.status_code == 401
    unsigned = shop.client.post(url, content=body)
    assert unsigned.status_code == 401 and "missing" in unsigned.json()["detail"]
    assert shop.renewal(started["id"])["status"] == "pending_payment"
    assert shop.packages() == 0


def test_duplicate_deliveries_fulfil_once(shop: Shop) -> None:
    started = shop.renew("card")
    order = started["payment"]["id"]
    shop.sandbox.payer_acts(order, "approve")
    shop.sandbox.schedule_webhook(order, copies=3)
    assert shop.deliver() == 4  # the payer's approval, and three copies of one more
    assert shop.renewal(started["id"])["status"] == "fulfilled"
    assert shop.packages() == 1 and shop.house_balance("clearing:sandbox") == 1_500_000
    shop.sandbox.schedule_webhook(order, delay_seconds=60)  # a late one
    assert shop.deliver() == 0
    assert shop.sandbox.deliver_due(shop.post, now=real_now() + timedelta(seconds=61)) == 1
    assert shop.packages() == 1


def test_a_failure_after_a_success_changes_nothing(shop: Shop) -> None:
    started = shop.renew("card")
    order = started["payment"]["id"]
    shop.payer(order, "approve")
    shop.sandbox.schedule_webhook(order, status=GatewayStatus.FAILED)  # out of order
    shop.deliver()
    done = shop.renewal(started["id"])
    assert done["status"] == "fulfilled" and done["payment"]["status"] == "succeeded"
    assert shop.packages() == 1
    # The stale word was heard and recorded, not acted on.
    assert [e[1] for e in shop.events(order)] == ["pending", "succeeded", "succeeded"]


def test_webhook_for_an_unknown_order_is_answered_and_ignored(shop: Shop) -> None:
    body, headers = signed(notification("pay_does_not_exist"))
    answer = shop.client.post("/api/v1/payments/webhooks/sandbox", content=body, headers=headers)
    assert answer.status_code == 200 and answer.json()["result"] == "unknown"
    assert (
        shop.client.post(
            "/api/v1/payments/webhooks/nowhere", content=body, headers=headers
        ).status_code
        == 404
    )


class EagerSandbox(SandboxGateway):
    """A payer so quick that the gateway's webhook lands while kuota's request still waits
    for the checkout answer."""

    deliver_to: Shop | None = None

    def start_checkout(self, request: CheckoutRequest) -> NextAction:
        action = super().start_checkout(request)
        self.payer_acts(request.order_id, "approve")
        assert self.deliver_to is not None
        assert self.deliver_to.deliver() == 1
        return action


def test_a_webhook_that_overtakes_the_checkout_answer(shop: Shop) -> None:
    eager = EagerSandbox(shop.db, shop.sandbox.settings)
    eager.deliver_to = shop
    shop.sandbox = eager
    shop.gateways.by_name["sandbox"] = eager
    started = shop.renew("card")
    assert started["status"] == "fulfilled"
    assert started["payment"]["status"] == "succeeded"
    assert shop.packages() == 1


def test_timeout_with_the_order_created_is_settled_as_paid(shop: Shop) -> None:
    shop.sandbox.lost_answers = 1
    started = shop.renew("card")
    order = started["payment"]["id"]
    assert started["payment"]["status"] == "unknown" and started["status"] == "pending_payment"
    shop.sandbox.payer_acts(order, "approve")  # the payer got there anyway
    shop.sandbox.outages = 1  # and the first question goes unanswered too
    shop.clock.advance(timedelta(seconds=20))
    assert shop.check().still_unknown == 1
    assert shop.renewal(started["id"])["payment"]["status"] == "unknown"
    shop.clock.advance(timedelta(minutes=2))
    assert shop.check().settled == 1
    assert shop.renewal(started["id"])["status"] == "fulfilled"
    actors = [e[2] for e in shop.events(order)]
    assert actors[-2:] == ["gateway:sandbox:checkout", "gateway:sandbox:status"]


def test_timeout_before_the_order_existed_is_settled_as_failed(shop: Shop) -> None:
    shop.sandbox.outages = 1
    started = shop.renew("qris")
    assert started["payment"]["status"] == "unknown"
    shop.clock.advance(timedelta(seconds=20))
    shop.check()
    failed = shop.renewal(started["id"])
    assert failed["status"] == "failed" and failed["payment"]["status"] == "failed"
    assert shop.packages() == 0


def test_success_after_expiry_is_fulfilled(shop: Shop) -> None:
    """The stated rule: money that arrives after kuota gave up is still a sale when the
    sale can be delivered; otherwise it is refunded."""
    started = shop.renew("ewallet")
    order = started["payment"]["id"]
    shop.clock.advance(timedelta(minutes=16))
    shop.check()
    assert shop.renewal(started["id"])["payment"]["status"] == "expired"
    shop.payer(order, "approve")
    shop.deliver()
    late = shop.renewal(started["id"])
    assert late["status"] == "fulfilled" and late["payment"]["status"] == "succeeded"


def test_paid_for_a_terminated_card_is_refunded_and_the_payer_told(shop: Shop) -> None:
    started = shop.renew("card")
    order = started["payment"]["id"]
    with shop.db.unit_of_work() as s:
        s.execute(update(Card).where(Card.msisdn == CARD1).values(status=CardStatus.TERMINATED))
    shop.payer(order, "approve")
    shop.deliver()
    with shop.db.unit_of_work(write=False) as s:
        payment = s.get_one(Payment, order)
        assert payment.status == "succeeded" and payment.refund_due
    assert shop.house_balance("refunds_payable") == -1_500_000
    shop.sandbox.lost_answers = 1  # the refund happens, its answer is lost
    assert jobs.refund_owed_payments(shop.db, shop.ctx, shop.gateways).refunded == 0
    shop.deliver()  # the gateway's "refunded" notification settles it instead
    with shop.db.unit_of_work(write=False) as s:
        payment = s.get_one(Payment, order)
        assert payment.status == "refunded" and not payment.refund_due
        sms = s.execute(
            select(OutboxMessage.body).where(OutboxMessage.recipient == CARD1)
        ).scalars()
        assert any("dikembalikan" in body for body in sms)
    assert jobs.refund_owed_payments(shop.db, shop.ctx, shop.gateways).refunded == 0
    assert shop.house_balance("refunds_payable") == 0
    assert shop.house_balance("clearing:sandbox") == 0
    assert shop.packages() == 0


def test_top_up_by_qris_grows_the_balance_once(shop: Shop) -> None:
    answer = shop.client.post(
        f"/api/v1/cards/{CARD1}/top-ups",
        json={"amount": {"amount": 5_000_000, "currency": "IDR"}, "payment_method": "qris"},
        headers={**shop.user, "Idempotency-Key": "top-1"},
    )
    assert answer.status_code == 201, answer.text
    top_up = answer.json()
    qr = top_up["payment"]["next_action"]["qr_payload"]
    fields = parse_qris(qr)
    assert fields["54"] == "50000" and fields["53"] == "360" and fields["58"] == "ID"
    replay = shop.client.post(
        f"/api/v1/cards/{CARD1}/top-ups",
        json={"amount": {"amount": 5_000_000, "currency": "IDR"}, "payment_method": "qris"},
        headers={**shop.user, "Idempotency-Key": "top-1"},
    )
    assert replay.json() == top_up  # the retry sees the QR code too
    shop.sandbox.payer_acts(top_up["payment"]["id"], "approve")
    shop.sandbox.schedule_webhook(top_up["payment"]["id"], copies=2)
    shop.deliver()
    assert shop.balance() == 20_000_000 + 5_000_000
    bad = shop.client.post(
        f"/api/v1/cards/{CARD1}/top-ups",
        json={"amount": {"amount": 50, "currency": "IDR"}, "payment_method": "qris"},
        headers={**shop.user, "Idempotency-Key": "top-2"},
    )
    assert bad.status_code == 422 and "whole rupiah" in bad.json()["detail"]
    cash = shop.client.post(
        f"/api/v1/cards/{CARD1}/top-ups",
        json={"amount": {"amount": 5_000_000, "currency": "IDR"}, "payment_method": "balance"},
        headers={**shop.user, "Idempotency-Key": "top-3"},
    )
    assert cash.status_code == 422 and "payment_method" in cash.text


def test_payment_state_is_private_to_its_owner(shop: Shop) -> None:
    started = shop.renew("card")
    order = started["payment"]["id"]
    mine = shop.client.get(f"/api/v1/payments/{order}", headers=shop.user)
    assert mine.status_code == 200 and mine.json()["next_action"]["kind"] == "redirect"
    other = login(shop.client, "demo2@kuota.example", "demo-user-2")
    assert shop.client.get(f"/api/v1/payments/{order}", headers=other).status_code == 404


def test_ledger_balances_per_provider(shop: Shop) -> None:
    started = shop.renew("card")
    shop.payer(started["payment"]["id"], "approve")
    shop.deliver()
    with shop.db.unit_of_work(write=False) as s:
        report = ledger.check_ledger(s)
    assert report.clean


def test_reconcile_finds_exactly_the_planted_differences(
    shop: Shop, settings: Settings, tmp_path: Path
) -> None:
    shop.clock.set(real_now())  # the sandbox keeps real time; both sides on the same day
    orders = []
    for _ in range(6):
        started = shop.renew("card")
        orders.append(started["payment"]["id"])
    for order in orders[:5]:
        shop.payer(order, "approve")
    shop.deliver()
    shop.sandbox.payer_acts(orders[5], "approve")  # paid; kuota never heard: still pending
    report = shop.sandbox.settlement_report(real_now().date())
    header, *rows = report.strip().splitlines()
    assert len(rows) == 6
    by_order = {row.split(",")[0]: row for row in rows}
    del by_order[orders[0]]  # kuota took money the gateway did not settle
    fields = by_order[orders[1]].split(",")
    fields[2] = "14000"  # the gateway settled another amount
    by_order[orders[1]] = ",".join(fields)
    stranger = by_order[orders[2]].replace(orders[2], "pay_stranger000000000000")
    planted = [*by_order.values(), stranger, by_order[orders[3]]]  # and a duplicate line
    path = tmp_path / "settlement.csv"
    path.write_text("\n".join([header, *planted]) + "\n")
    out = tmp_path / "differences.csv"
    result = subprocess.run(
        [sys.executable, "-m", "kuota", "reconcile", str(path), "--out", str(out)],
        env={**os.environ, "KUOTA_DATABASE_URL": settings.database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    with out.open(newline="") as handle:
        found = {(row["kind"], row["order_id"]) for row in csv.DictReader(handle)}
    assert found == {
        ("missing_at_gateway", orders[0]),
        ("amount_mismatch", orders[1]),
        ("missing_in_kuota", "pay_stranger000000000000"),
        ("duplicate_in_report", orders[3]),
        ("status_mismatch", orders[5]),
    }
    clean = tmp_path / "clean.csv"
    clean.write_text(report)
    # The payment kuota never heard of is settled by the reconciling job: then all agree.
    shop.clock.advance(timedelta(minutes=16))
    shop.check()
    again = subprocess.run(
        [sys.executable, "-m", "kuota", "reconcile", str(clean), "--out", str(tmp_path / "o.csv")],
        env={**os.environ, "KUOTA_DATABASE_URL": settings.database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    bad = tmp_path / "bad.csv"
    bad.write_text(header + "\npay_x,sbx,15.000,IDR,settlement,2026-11-25T00:00:00Z\n")
    refused = subprocess.run(
        [sys.executable, "-m", "kuota", "reconcile", str(bad)],
        env={**os.environ, "KUOTA_DATABASE_URL": settings.database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert refused.returncode == 2 and "line 2" in refused.stdout


def test_paid_for_a_withdrawn_plan_is_refunded(shop: Shop) -> None:
    from kuota.catalog import service as catalog

    started = shop.renew("card")
    order = started["payment"]["id"]
    with shop.db.unit_of_work() as s:
        catalog.withdraw_plan(s, "DATA-1GB-7D")
    shop.payer(order, "approve")
    shop.deliver()
    assert jobs.refund_owed_payments(shop.db, shop.ctx, shop.gateways).refunded == 1
    with shop.db.unit_of_work(write=False) as s:
        assert s.get_one(Payment, order).status == "refunded"
        assert s.get_one(SandboxOrder, order).status == "refunded"
    assert shop.packages() == 0 and shop.house_balance("refunds_payable") == 0
    failed = shop.renewal(started["id"])
    assert failed["status"] == "failed" and failed["payment"]["status"] == "refunded"


def test_the_daily_settlement_report_is_served_as_a_file(shop: Shop) -> None:
    started = shop.renew("card")
    shop.payer(started["payment"]["id"], "approve")
    day = real_now().date().isoformat()
    report = shop.client.get(f"/sandbox/settlements/{day}.csv")
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    header, line = report.text.strip().splitlines()
    assert header == "order_id,transaction_id,gross_amount,currency,status,settled_at"
    assert line.startswith(f"{started['payment']['id']},sbx_") and ",15000,IDR,settlement," in line
    assert shop.client.get("/sandbox/settlements/yesterday.csv").status_code == 422


def test_a_late_payment_keeps_its_promotion_even_when_the_promotion_ran_out(shop: Shop) -> None:
    from kuota.catalog import promotions

    with shop.db.unit_of_work() as s:
        promotions.create_promotion(
            s,
            code="HEMAT10",
            kind="percent",
            value=1000,
            currency="IDR",
            starts_at=shop.clock.now() - timedelta(days=1),
            ends_at=shop.clock.now() + timedelta(days=30),
            plan_codes=None,
            channels=None,
            max_redemptions=1,
            max_per_card=None,
            now=shop.clock.now(),
        )
    late = shop.renew("ewallet", promo_code="HEMAT10")
    assert late["total"]["amount"] == 1_350_000
    shop.clock.advance(timedelta(minutes=16))
    shop.check()  # expired: its redemption is given back ...
    other = shop.renew("balance", promo_code="HEMAT10")  # ... and taken by another sale
    assert other["status"] == "fulfilled"
    shop.payer(late["payment"]["id"], "approve")  # then the first payer pays after all
    shop.deliver()
    done = shop.renewal(late["id"])
    assert done["status"] == "fulfilled" and done["total"]["amount"] == 1_350_000


def test_renewal_through_midtrans_passes_the_e_wallet_choice(
    demo_db: Database, settings: Settings, clock: FixedClock
) -> None:
    """The same HTTP API with the Midtrans adapter behind it, at the HTTP boundary: the
    payer's e-wallet choice reaches the charge request, the deeplink comes back."""
    import httpx

    from kuota.payments.midtrans import MidtransGateway, MidtransSettings

    recorded = orjson.loads((FIXTURES / "charge_shopeepay.json").read_bytes())
    seen: list[dict[str, Any]] = []

    def midtrans(request: httpx.Request) -> httpx.Response:
        body = orjson.loads(request.content)
        seen.append(body)
        answer = dict(recorded["response"]["body"])
        answer["order_id"] = body["transaction_details"]["order_id"]
        answer["gross_amount"] = f"{body['transaction_details']['gross_amount']}.00"
        return httpx.Response(200, json=answer)

    gateway = MidtransGateway(
        MidtransSettings(server_key="SB-Mid-server-test"),
        client=httpx.Client(transport=httpx.MockTransport(midtrans)),
    )
    app = create_app(
        settings,
        db=demo_db,
        clock=clock,
        gateways=Gateways({"midtrans": gateway}, default="midtrans"),
    )
    with TestClient(app) as client:
        user = login(client, *USER1)
        answer = client.post(
            "/api/v1/renewals",
            json={
                "msisdn": CARD1,
                "plan_code": "DATA-1GB-7D",
                "payment_method": "ewallet",
                "gateway_options": {"ewallet": "shopeepay"},
            },
            headers={**user, "Idempotency-Key": "mt-1"},
        )
    assert answer.status_code == 201, answer.text
    [charge] = seen
    assert charge["payment_type"] == "shopeepay"
    assert charge["transaction_details"]["gross_amount"] == 15000
    action = answer.json()["payment"]["next_action"]
    assert action["kind"] == "redirect" and "airpay" in action["url"]
