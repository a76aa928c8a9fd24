"""Background work on payments: ask the gateway about open ones, refund what is owed.

Each step asks the gateway with no transaction open and records the answer in a new
one, like a request does. Run by `kuota worker` (and the demo) every few seconds.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import httpx

from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.money import Money
from kuota.payments import service as payments
from kuota.payments import settlement
from kuota.payments.gateway import (
    GatewayEvent,
    GatewayRefused,
    GatewayStatus,
    GatewayUnavailable,
)
from kuota.payments.models import Payment, PaymentStatus
from kuota.payments.providers import Gateways
from kuota.payments.sandbox import SandboxGateway

log = logging.getLogger("kuota.payments")


@dataclass
class JobStats:
    checked: int = 0
    settled: int = 0
    still_unknown: int = 0
    refunded: int = 0


def check_open_payments(
    db: Database, ctx: Context, gateways: Gateways, limit: int = 50
) -> JobStats:
    """Settle pending payments past their expiry and unknown ones, by asking the gateway.

    A gateway that still says pending after kuota's expiry: the payment expires (if
    the payer pays later after all, the success settles it: fulfilled or refunded).
    A gateway that knows no such order: the checkout never reached it; failed."""
    stats = JobStats()
    now = ctx.clock.now()
    with db.unit_of_work() as session:
        due = payments.due_for_check(session, now, limit, skip_locked=not db.is_sqlite)
        for payment_id in due:  # leased: nobody else asks about it for a while
            payment = session.get_one(Payment, payment_id)
            payments.schedule_check(
                session, payment, at=now + payments.check_backoff(payment.check_attempts)
            )
    for payment_id in due:
        stats.checked += 1
        with db.unit_of_work(write=False) as session:
            payment = session.get_one(Payment, payment_id)
            provider, expires_at = payment.provider, payment.expires_at
        gateway = gateways.named(provider)
        if gateway is None:
            log.error("payment %s is at gateway %s, which is not configured", payment_id, provider)
            continue
        try:
            said = gateway.fetch_status(payment_id)
        except GatewayUnavailable as exc:
            stats.still_unknown += 1
            log.warning("gateway %s did not answer about %s: %s", provider, payment_id, exc)
            continue
        except GatewayRefused as exc:
            said = GatewayEvent(
                order_id=payment_id, status=GatewayStatus.FAILED, raw={"unknown_order": str(exc)}
            )
        if said.status is GatewayStatus.PENDING:
            if expires_at is not None and expires_at <= now:
                said = GatewayEvent(
                    order_id=payment_id,
                    status=GatewayStatus.EXPIRED,
                    provider_reference=said.provider_reference,
                    raw={"expired_by": "kuota", "gateway": dict(said.raw)},
                )
            else:
                with db.unit_of_work() as session:
                    payment = session.get_one(Payment, payment_id)
                    if payment.status == PaymentStatus.UNKNOWN:  # the gateway has it: pending
                        payments.move(
                            session,
                            payment,
                            PaymentStatus.PENDING,
                            actor=f"gateway:{provider}:status",
                            detail={"gateway_status": "pending"},
                            now=now,
                            next_check_at=expires_at,
                        )
                continue
        with db.unit_of_work() as session:
            outcome = settlement.settle(session, ctx, said, actor=f"gateway:{provider}:status")
        stats.settled += outcome.action != "unchanged"
    return stats


def refund_owed_payments(
    db: Database, ctx: Context, gateways: Gateways, limit: int = 20
) -> JobStats:
    """Give back money taken for sales that could not be delivered."""
    stats = JobStats()
    now = ctx.clock.now()
    with db.unit_of_work() as session:
        owed = []
        for payment_id in payments.refunds_due(session, now, limit):
            payment = session.get_one(Payment, payment_id)
            owed.append((payment.id, payment.provider, Money(payment.amount, payment.currency)))
            # Leased with backoff: a refund that fails waits longer before the next try.
            payments.schedule_check(
                session, payment, at=now + payments.check_backoff(payment.check_attempts)
            )
    for payment_id, provider, amount in owed:
        gateway = gateways.named(provider)
        if gateway is None:
            continue
        try:
            result = gateway.refund(payment_id, amount, "the purchase could not be delivered")
        except GatewayUnavailable as exc:
            log.warning("refund of %s not confirmed yet: %s", payment_id, exc)
            continue  # refunds are idempotent at the gateway: asked again next round
        except GatewayRefused as exc:
            log.error("gateway %s refused to refund %s: %s", provider, payment_id, exc)
            continue
        with db.unit_of_work() as session:
            settlement.refunded(session, ctx, payment_id, result)
        stats.refunded += 1
    return stats


def run_forever(
    db: Database,
    ctx: Context,
    gateways: Gateways,
    *,
    stop: threading.Event,
    interval_seconds: float = 2.0,
) -> None:
    """The payments loop of `kuota worker`: open payments, refunds, and (with the sandbox
    gateway) the sandbox's own webhook deliveries to this installation."""
    sandbox = gateways.named("sandbox")
    client = httpx.Client(timeout=10)

    def post(url: str, headers: dict[str, str], body: bytes) -> int:
        return client.post(url, headers=headers, content=body).status_code

    log.info("payments worker started")
    try:
        while not stop.is_set():
            try:
                check_open_payments(db, ctx, gateways)
                refund_owed_payments(db, ctx, gateways)
                if isinstance(sandbox, SandboxGateway):
                    sandbox.deliver_due(post)
            except Exception:
                log.exception("payments pass failed; retrying")
            stop.wait(interval_seconds)
    finally:
        client.close()
    log.info("payments worker stopped")
