"""The payment-gateway interface the payment service relies on.

The service layer owns this protocol; the sandbox gateway and the real adapters
(Midtrans) implement it. A gateway is never called inside a database
transaction: the payment intent is committed first, the gateway is called, and
its answer is recorded in a new transaction. An answer that never came (a
timeout, a 5xx, a dropped connection) is `GatewayUnavailable`: the payment is
then `unknown` until a status query settles it, never guessed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from kuota.core.money import Money

GATEWAY_METHODS = frozenset({"card", "qris", "ewallet", "kiosk_card"})


class GatewayStatus(StrEnum):
    """What the gateway says of an order, mapped from its own vocabulary."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    order_id: str  # kuota's payment id: unique per attempt, the gateway's order id
    method: str  # card | ewallet | qris | kiosk_card
    amount: Money  # whole rupiah
    description: str
    return_url: str  # where the payer's browser comes back to after a hosted checkout
    customer_msisdn: str | None = None
    customer_email: str | None = None
    ewallet: str | None = None  # gopay | shopeepay, for method "ewallet"
    card_token: str | None = None  # a token from the gateway's card form, for method "card"
    terminal_label: str | None = None  # QRIS tag 62 terminal label (kiosk code)
    expires_in_seconds: int = 900


@dataclass(frozen=True, slots=True)
class NextAction:
    """What the payer must do next."""

    kind: str  # "redirect" (open url) | "qr" (scan qr_payload) | "none" (already decided)
    url: str | None = None
    qr_payload: str | None = None
    provider_reference: str | None = None  # the gateway's transaction id, when it gave one
    status: GatewayStatus = GatewayStatus.PENDING


@dataclass(frozen=True, slots=True)
class GatewayEvent:
    """The gateway's word on one order: from a verified notification or a status query."""

    order_id: str
    status: GatewayStatus
    provider_reference: str | None = None
    amount: Money | None = None
    event_id: str | None = None  # the notification's id, for ignoring duplicates
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RefundResult:
    order_id: str
    refund_reference: str
    amount: Money


@dataclass(frozen=True, slots=True)
class SettlementLine:
    """One line of a gateway's settlement report."""

    order_id: str
    provider_reference: str | None
    amount: Money
    status: GatewayStatus
    settled_at: datetime


class GatewayRefused(Exception):
    """The gateway answered and said no (bad request, declined, unknown order)."""


class GatewayUnavailable(Exception):
    """No usable answer: timeout, connection error, 5xx. The outcome is unknown."""


class NotificationRejected(Exception):
    """A notification that must not be acted on: bad signature, too old, malformed."""


class PaymentGateway(Protocol):
    name: str  # "sandbox", "midtrans": also the ledger's clearing account per provider
    methods: frozenset[str]

    def start_checkout(self, request: CheckoutRequest) -> NextAction:
        """Create the order at the gateway. Raises GatewayRefused or GatewayUnavailable."""
        ...

    def fetch_status(self, order_id: str) -> GatewayEvent:
        """Ask the gateway what became of an order (the reconciling job's question)."""
        ...

    def refund(self, order_id: str, amount: Money, reason: str) -> RefundResult:
        """Give a succeeded payment's money back, in full."""
        ...

    def cancel(self, order_id: str) -> GatewayEvent:
        """Close an open order so it can no longer be paid (the payer walked away); answers
        the order's state afterwards: failed or expired when closed, succeeded when the
        payment got there first."""
        ...

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> GatewayEvent:
        """Check a webhook's authenticity (signature, age) and read it. Raises
        NotificationRejected. The service still confirms by `fetch_status` before acting
        where the gateway's documentation asks for it."""
        ...
