"""The payment-gateway interface the renewal service relies on.

The service layer owns this protocol; the sandbox gateway and real adapters
(Midtrans) implement it. A gateway never runs inside a database transaction:
the payment intent is committed first, the gateway is called, and its answer
is recorded in a new transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from kuota.core.money import Money

GATEWAY_METHODS = frozenset({"card", "qris", "ewallet", "kiosk_card"})


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    payment_id: str
    method: str
    amount: Money
    description: str
    return_url: str


@dataclass(frozen=True, slots=True)
class NextAction:
    """What the payer must do: open a checkout URL, or scan a QR payload."""

    kind: str  # "redirect" | "qr"
    url: str | None = None
    qr_payload: str | None = None
    provider_reference: str | None = None


class PaymentGateway(Protocol):
    name: str

    def start_checkout(self, request: CheckoutRequest) -> NextAction: ...
