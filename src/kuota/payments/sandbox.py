"""The sandbox gateway: a payment gateway that behaves like a real one, for the demo and
the tests, behind the same `PaymentGateway` interface as Midtrans.

It keeps its own books (`sandbox_orders`), shows the payer a hosted checkout page
(approve, decline, abandon), answers status queries, refunds, writes a daily
settlement report, and notifies kuota by signed webhooks (Standard Webhooks) that
it delivers asynchronously, and on request late, twice or out of order. Tests can
make it unreachable (`outages`) or lose its answer after doing the work
(`lost_answers`), the two ways a real gateway leaves a payment unknown.
"""

from __future__ import annotations

import io
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import orjson
from sqlalchemy import insert, select, update

from kuota.core.clock import real_now
from kuota.core.db import Database
from kuota.core.money import Money
from kuota.payments import webhooks
from kuota.payments.gateway import (
    CheckoutRequest,
    GatewayEvent,
    GatewayRefused,
    GatewayStatus,
    GatewayUnavailable,
    NextAction,
    NotificationRejected,
    RefundResult,
    SettlementLine,
)
from kuota.payments.models import SandboxOrder, SandboxWebhook
from kuota.payments.qris import dynamic_qris
from kuota.payments.reconcile import write_settlement_csv

PAYER_ACTIONS = ("approve", "decline", "abandon")
# The sandbox card terminal at a kiosk: the card is approved or declined, the terminal
# never answers (timeout), or the customer pulls the card out before it is done.
TERMINAL_ACTIONS = ("approve", "decline", "timeout", "remove")
Post = Callable[[str, dict[str, str], bytes], int]


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    public_url: str  # where the checkout page is served and webhooks are sent (kuota's)
    webhook_secret: str  # whsec_…
    merchant_name: str = "KUOTA DEMO"
    merchant_city: str = "JAKARTA"
    merchant_pan: str = "9360000012345678901"
    merchant_id: str = "ID1020000000001"


class SandboxGateway:
    name = "sandbox"
    methods = frozenset({"card", "ewallet", "qris", "kiosk_card"})

    def __init__(self, db: Database, settings: SandboxSettings) -> None:
        self._db = db
        self.settings = settings
        self._lock = threading.Lock()
        self.outages = 0  # the next N calls get no answer at all
        self.lost_answers = 0  # the next N checkouts/refunds happen, but the answer is lost

    # -- failure injection ---------------------------------------------------------------

    def _reachable(self) -> None:
        with self._lock:
            if self.outages > 0:
                self.outages -= 1
                raise GatewayUnavailable("sandbox gateway: connection timed out")

    def _answer_lost(self) -> bool:
        with self._lock:
            if self.lost_answers > 0:
                self.lost_answers -= 1
                return True
            return False

    # -- the gateway's API ---------------------------------------------------------------

    def start_checkout(self, request: CheckoutRequest) -> NextAction:
        self._reachable()
        if request.method not in self.methods:
            raise GatewayRefused(f"the sandbox does not take {request.method!r} payments")
        if request.amount.amount <= 0:
            raise GatewayRefused("the amount must be positive")
        now = real_now()
        transaction_id = f"sbx_{secrets.token_hex(8)}"
        qr_payload = None
        if request.method == "qris":
            qr_payload = dynamic_qris(
                merchant_name=self.settings.merchant_name,
                merchant_city=self.settings.merchant_city,
                merchant_pan=self.settings.merchant_pan,
                merchant_id=self.settings.merchant_id,
                amount=request.amount,
                terminal_label=(request.terminal_label or "ONLINE")[:25],
                reference=request.order_id[:25],
            )
        with self._db.unit_of_work() as session:
            exists = session.get(SandboxOrder, request.order_id)
            if exists is not None:
                raise GatewayRefused(f"order {request.order_id} already exists")
            session.execute(
                insert(SandboxOrder).values(
                    order_id=request.order_id,
                    transaction_id=transaction_id,
                    method=request.method,
                    amount=request.amount.amount,
                    currency=request.amount.currency,
                    status=GatewayStatus.PENDING,
                    return_url=request.return_url,
                    qr_payload=qr_payload,
                    created_at=now,
                    updated_at=now,
                    expires_at=now + timedelta(seconds=request.expires_in_seconds),
                )
            )
        if self._answer_lost():
            raise GatewayUnavailable("sandbox gateway: the answer was lost on the way back")
        url = f"{self.settings.public_url}/sandbox/checkout/{request.order_id}"
        if qr_payload is not None:
            return NextAction(
                kind="qr", url=url, qr_payload=qr_payload, provider_reference=transaction_id
            )
        if request.method == "kiosk_card":
            # The kiosk shows "insert your card"; the terminal (this page) decides.
            return NextAction(kind="terminal", url=url, provider_reference=transaction_id)
        return NextAction(kind="redirect", url=url, provider_reference=transaction_id)

    def fetch_status(self, order_id: str) -> GatewayEvent:
        self._reachable()
        with self._db.unit_of_work() as session:
            order = self._current(session, order_id)
            return _event(order)

    def refund(self, order_id: str, amount: Money, reason: str) -> RefundResult:
        self._reachable()
        with self._db.unit_of_work() as session:
            order = self._current(session, order_id)
            if order.status == GatewayStatus.REFUNDED:
                return RefundResult(order_id, f"rf_{order.transaction_id}", amount)
            if order.status != GatewayStatus.SUCCEEDED:
                raise GatewayRefused(f"order {order_id} is {order.status}; only paid orders refund")
            if amount != Money(order.amount, order.currency):
                raise GatewayRefused("the sandbox refunds in full only")
            self._set_status(session, order, GatewayStatus.REFUNDED)
            self._schedule(session, order, GatewayStatus.REFUNDED, delay=timedelta(0), copies=1)
        if self._answer_lost():
            raise GatewayUnavailable("sandbox gateway: the refund's answer was lost")
        return RefundResult(order_id, f"rf_{order.transaction_id}", amount)

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> GatewayEvent:
        message_id = webhooks.verify(self.settings.webhook_secret, headers, body, now)
        try:
            payload = orjson.loads(body)
            data = payload["data"]
            return GatewayEvent(
                order_id=str(data["order_id"]),
                status=GatewayStatus(data["status"]),
                provider_reference=str(data["transaction_id"]),
                amount=Money(int(data["amount"]["amount"]), str(data["amount"]["currency"])),
                event_id=message_id,
                raw=payload,
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise NotificationRejected(f"the notification body is not understood: {exc}") from exc

    # -- the payer, at the hosted checkout page ------------------------------------------

    def order(self, order_id: str) -> SandboxOrder | None:
        with self._db.unit_of_work(write=False) as session:
            return session.get(SandboxOrder, order_id)

    def cancel(self, order_id: str) -> GatewayEvent:
        """Close a pending order as the gateway does when asked; a decided one stays."""
        self._reachable()
        with self._db.unit_of_work() as session:
            order = self._current(session, order_id)
            if order.status == GatewayStatus.PENDING:
                self._set_status(session, order, GatewayStatus.EXPIRED)
                self._schedule(session, order, GatewayStatus.EXPIRED, delay=timedelta(0), copies=1)
        return self.fetch_status(order_id)

    def payer_acts(self, order_id: str, action: str) -> str:
        """The payer pressed a button on the checkout page; returns where to send them."""
        if action not in PAYER_ACTIONS + TERMINAL_ACTIONS:
            raise GatewayRefused(
                f"unknown action {action!r}; one of {', '.join(PAYER_ACTIONS + TERMINAL_ACTIONS)}"
            )
        with self._db.unit_of_work() as session:
            order = self._current(session, order_id)
            if order.status == GatewayStatus.PENDING and action not in ("abandon", "timeout"):
                status = GatewayStatus.SUCCEEDED if action == "approve" else GatewayStatus.FAILED
                self._set_status(session, order, status)
                self._schedule(session, order, status, delay=timedelta(0), copies=1)
            return f"{order.return_url}{'&' if '?' in order.return_url else '?'}result={action}"

    # -- webhooks: scheduled, then delivered by `deliver_due` ----------------------------

    def schedule_webhook(
        self,
        order_id: str,
        *,
        status: GatewayStatus | None = None,
        delay_seconds: float = 0,
        copies: int = 1,
    ) -> None:
        """Queue a notification about an order: its current status unless another is
        given (to send one out of order), after a delay, as `copies` identical deliveries."""
        with self._db.unit_of_work() as session:
            order = self._current(session, order_id)
            self._schedule(
                session,
                order,
                status or GatewayStatus(order.status),
                delay=timedelta(seconds=delay_seconds),
                copies=copies,
            )

    def deliver_due(self, post: Post, *, now: datetime | None = None, limit: int = 50) -> int:
        """Deliver the notifications that are due; a delivery that is not answered 2xx is
        retried with backoff, as gateways do."""
        moment = now or real_now()
        with self._db.unit_of_work() as session:
            due = list(
                session.execute(
                    select(SandboxWebhook)
                    .where(
                        SandboxWebhook.delivered_at.is_(None), SandboxWebhook.deliver_at <= moment
                    )
                    .order_by(SandboxWebhook.deliver_at, SandboxWebhook.id)
                    .limit(limit)
                ).scalars()
            )
            for hook in due:  # leased while it is being sent
                hook.deliver_at = moment + timedelta(minutes=1)
        delivered = 0
        url = f"{self.settings.public_url}/api/v1/payments/webhooks/{self.name}"
        for hook in due:
            body = hook.payload.encode()
            stamp = int(real_now().timestamp())
            headers = webhooks.signed_headers(
                self.settings.webhook_secret, hook.event_id, stamp, body
            )
            error: str | None = None
            try:
                status = post(url, headers, body)
                if not 200 <= status < 300:
                    error = f"answered {status}"
            except Exception as exc:  # any failure to deliver is retried
                error = f"{type(exc).__name__}: {exc}"
            with self._db.unit_of_work() as session:
                values: dict[str, Any] = {"attempts": hook.attempts + 1, "last_error": error}
                if error is None:
                    values["delivered_at"] = real_now()
                    delivered += 1
                else:
                    values["deliver_at"] = real_now() + timedelta(
                        seconds=min(5 * 2**hook.attempts, 3600)
                    )
                session.execute(
                    update(SandboxWebhook).where(SandboxWebhook.id == hook.id).values(**values)
                )
        return delivered

    # -- settlement ----------------------------------------------------------------------

    def settlement_report(self, day: date) -> str:
        """The day's settled and refunded orders (UTC day), in the CSV format of
        `kuota.payments.reconcile`."""
        start = datetime.combine(day, time(0), tzinfo=UTC)
        with self._db.unit_of_work(write=False) as session:
            orders = session.execute(
                select(SandboxOrder)
                .where(
                    SandboxOrder.status.in_([GatewayStatus.SUCCEEDED, GatewayStatus.REFUNDED]),
                    SandboxOrder.updated_at >= start,
                    SandboxOrder.updated_at < start + timedelta(days=1),
                )
                .order_by(SandboxOrder.updated_at, SandboxOrder.order_id)
            ).scalars()
            lines = [
                SettlementLine(
                    order_id=o.order_id,
                    provider_reference=o.transaction_id,
                    amount=Money(o.amount, o.currency),
                    status=GatewayStatus(o.status),
                    settled_at=o.updated_at,
                )
                for o in orders
            ]
        out = io.StringIO()
        write_settlement_csv(lines, out)
        return out.getvalue()

    # -- books -----------------------------------------------------------------------------

    def _current(self, session: Any, order_id: str) -> SandboxOrder:
        order: SandboxOrder | None = session.get(SandboxOrder, order_id)
        if order is None:
            raise GatewayRefused(f"unknown order {order_id}")
        if order.status == GatewayStatus.PENDING and order.expires_at <= real_now():
            self._set_status(session, order, GatewayStatus.EXPIRED)
            self._schedule(session, order, GatewayStatus.EXPIRED, delay=timedelta(0), copies=1)
        return order

    def _set_status(self, session: Any, order: SandboxOrder, status: GatewayStatus) -> None:
        order.status = status
        order.updated_at = real_now()
        session.flush()

    def _schedule(
        self,
        session: Any,
        order: SandboxOrder,
        status: GatewayStatus,
        *,
        delay: timedelta,
        copies: int,
    ) -> None:
        event_id = f"msg_{secrets.token_hex(12)}"
        payload = orjson.dumps(
            {
                "id": event_id,
                "type": f"payment.{status}",
                "timestamp": real_now().isoformat(),
                "data": {
                    "order_id": order.order_id,
                    "transaction_id": order.transaction_id,
                    "status": str(status),
                    "method": order.method,
                    "amount": {"amount": order.amount, "currency": order.currency},
                },
            }
        ).decode()
        for _ in range(copies):
            session.execute(
                insert(SandboxWebhook).values(
                    order_id=order.order_id,
                    event_id=event_id,
                    payload=payload,
                    deliver_at=real_now() + delay,
                    delivered_at=None,
                    attempts=0,
                    last_error=None,
                )
            )


def _event(order: SandboxOrder) -> GatewayEvent:
    return GatewayEvent(
        order_id=order.order_id,
        status=GatewayStatus(order.status),
        provider_reference=order.transaction_id,
        amount=Money(order.amount, order.currency),
        raw={"status": order.status, "transaction_id": order.transaction_id},
    )
