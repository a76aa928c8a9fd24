"""The Midtrans Core API adapter: cards with 3-D Secure, GoPay and ShopeePay, QRIS.

Midtrans usually answers HTTP 200 and puts its verdict in the body's own
`status_code`: 200 done, 201 pending, 202 denied, 407 expired, 4xx refused, 5xx
its own failure. The adapter reads that code first and the HTTP status only
when the body carries none. Amounts go out as whole rupiah and come back as
decimal strings ("15000.00"); both are converted exactly, never through a float.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

import httpx

from kuota.core.money import CHARGE_UNITS, CURRENCY_EXPONENTS, Money
from kuota.payments.gateway import (
    CheckoutRequest,
    GatewayEvent,
    GatewayRefused,
    GatewayStatus,
    GatewayUnavailable,
    NextAction,
    NotificationRejected,
    RefundResult,
)

SANDBOX_BASE_URL: Final = "https://api.sandbox.midtrans.com"
PRODUCTION_BASE_URL: Final = "https://api.midtrans.com"

# Body status codes that describe a transaction (done, pending, denied, expired):
# the transaction's own status then decides what happened.
_TRANSACTION_CODES: Final = frozenset({"200", "201", "202", "407"})
_REFUND_DONE_CODES: Final = frozenset({"200", "201"})

_EWALLETS: Final = frozenset({"gopay", "shopeepay"})
_AMOUNT: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# Midtrans accepts only letters, digits, dash and underscore in a refund key.
_NOT_IN_REFUND_KEY: Final = re.compile(r"[^A-Za-z0-9_-]")

_SETTLED_STATUSES: Final[Mapping[str, GatewayStatus]] = {
    "settlement": GatewayStatus.SUCCEEDED,
    "pending": GatewayStatus.PENDING,
    "authorize": GatewayStatus.PENDING,  # card pre-authorisation: money held, not taken
    "deny": GatewayStatus.FAILED,
    "cancel": GatewayStatus.FAILED,
    "failure": GatewayStatus.FAILED,
    "expire": GatewayStatus.EXPIRED,
    "refund": GatewayStatus.REFUNDED,
    # kuota refunds in full only; a partial refund was made by staff in Midtrans's
    # dashboard, so the payment still stands and reconciliation shows the difference.
    "partial_refund": GatewayStatus.SUCCEEDED,
}


class UnknownMidtransStatus(ValueError):
    """A `transaction_status` this adapter does not know (e.g. chargeback): never guessed."""


@dataclass(frozen=True, slots=True)
class MidtransSettings:
    # repr=False keeps the server key out of logs and tracebacks.
    server_key: str = field(repr=False)
    base_url: str = SANDBOX_BASE_URL
    timeout_seconds: float = 15.0


def map_status(transaction_status: str, fraud_status: str | None) -> GatewayStatus:
    """Midtrans's transaction and fraud status as one kuota status.

    A card `capture` succeeds only once the fraud check says `accept`; `challenge` (or
    no verdict) waits for staff to approve or deny it in Midtrans's dashboard.
    """
    if transaction_status == "capture":
        if fraud_status == "accept":
            return GatewayStatus.SUCCEEDED
        if fraud_status == "deny":
            return GatewayStatus.FAILED
        return GatewayStatus.PENDING
    try:
        return _SETTLED_STATUSES[transaction_status]
    except KeyError:
        raise UnknownMidtransStatus(transaction_status) from None


def parse_gross_amount(text: str, currency: str = "IDR") -> Money:
    """Midtrans's decimal amount string ("15000.00") as exact minor units; ValueError if not."""
    if currency not in CURRENCY_EXPONENTS:
        raise ValueError(f"unsupported currency {currency!r}")
    if not _AMOUNT.fullmatch(text):
        raise ValueError(f"gross_amount {text!r} is not a plain decimal amount")
    minor = Decimal(text).scaleb(CURRENCY_EXPONENTS[currency])
    if minor != minor.to_integral_value():
        raise ValueError(f"gross_amount {text!r} has a fraction of a minor unit")
    return Money(int(minor), currency)


def notification_signature(
    order_id: str, status_code: str, gross_amount: str, server_key: str
) -> str:
    """Midtrans's `signature_key`: SHA-512 hex of the four strings run together."""
    return hashlib.sha512(
        (order_id + status_code + gross_amount + server_key).encode("utf-8")
    ).hexdigest()


def refund_key(order_id: str) -> str:
    """The refund's idempotency key, the same on every attempt, so that a retry after a
    lost answer is the same refund at Midtrans rather than a second one."""
    return _NOT_IN_REFUND_KEY.sub("_", order_id) + "-refund"


class MidtransGateway:
    """Payments through Midtrans's Core API (server-to-server charges, no Snap page)."""

    name = "midtrans"
    methods = frozenset({"card", "ewallet", "qris"})

    def __init__(self, settings: MidtransSettings, client: httpx.Client | None = None) -> None:
        self._settings = settings
        self._base_url = settings.base_url.rstrip("/")
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=settings.timeout_seconds)

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def start_checkout(self, request: CheckoutRequest) -> NextAction:
        """Charge the order at Midtrans and say what the payer does next (3-D Secure page,
        e-wallet app, QRIS code), or that Midtrans already decided."""
        code, body = self._call("POST", "/v2/charge", _charge_body(request))
        _expect(code, body, _TRANSACTION_CODES)
        try:
            return _next_action(request, code, body)
        except ValueError as exc:
            raise GatewayUnavailable(f"unusable Midtrans charge answer: {exc}") from exc

    def fetch_status(self, order_id: str) -> GatewayEvent:
        """Midtrans's current word on an order; an order it never saw is refused."""
        code, body = self._call("GET", f"/v2/{quote(order_id, safe='')}/status")
        if code == "404":
            raise GatewayRefused(f"unknown order {order_id!r} at Midtrans")
        _expect(code, body, _TRANSACTION_CODES)
        try:
            return _event(body, code, order_id=order_id)
        except ValueError as exc:
            raise GatewayUnavailable(f"unusable Midtrans status answer: {exc}") from exc

    def cancel(self, order_id: str) -> GatewayEvent:
        """Expire a pending order (Midtrans's expire API: QRIS, e-wallets, and cards not
        yet captured). When Midtrans refuses because the order was decided meanwhile, its
        status says how."""
        code, body = self._call("POST", f"/v2/{quote(order_id, safe='')}/expire")
        if code in ("200", "407"):
            try:
                return _event(body, code, order_id=order_id)
            except ValueError as exc:
                raise GatewayUnavailable(f"unusable Midtrans expire answer: {exc}") from exc
        return self.fetch_status(order_id)

    def refund(self, order_id: str, amount: Money, reason: str) -> RefundResult:
        """Refund a settled payment in full. The refund key is derived from the order, so a
        retry that Midtrans calls a duplicate (406) is confirmed by a status query."""
        key = refund_key(order_id)
        path = f"/v2/{quote(order_id, safe='')}/refund"
        payload = {"refund_key": key, "amount": _whole_rupiah(amount), "reason": reason}
        code, body = self._call("POST", path, payload)
        if code == "406" and self.fetch_status(order_id).status is GatewayStatus.REFUNDED:
            # An earlier attempt with this key went through but its answer was lost.
            return RefundResult(order_id=order_id, refund_reference=key, amount=amount)
        if code == "202":  # "Refund denied by the bank": a definite no
            raise GatewayRefused(_describe(code, body))
        _expect(code, body, _REFUND_DONE_CODES)
        refunded = body.get("refund_amount")
        try:
            paid_back = parse_gross_amount(refunded) if isinstance(refunded, str) else amount
        except ValueError as exc:
            raise GatewayUnavailable(f"unusable Midtrans refund answer: {exc}") from exc
        echoed_key = body.get("refund_key")
        return RefundResult(
            order_id=order_id,
            refund_reference=echoed_key if isinstance(echoed_key, str) else key,
            amount=paid_back,
        )

    def verify_notification(
        self, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> GatewayEvent:
        """Check a Midtrans HTTP notification's `signature_key` and read it.

        Midtrans signs no timestamp, so a notification's age cannot be checked and a
        replay verifies: the service must confirm with `fetch_status` before acting and
        ignore a repeated `event_id` (transaction id + status; Midtrans gives no
        notification id). `headers` and `now` carry nothing Midtrans signs.
        """
        try:
            notification = json.loads(body)
        except ValueError as exc:  # includes bytes that are not UTF-8
            raise NotificationRejected("Midtrans notification is not JSON") from exc
        if not isinstance(notification, dict):
            raise NotificationRejected("Midtrans notification is not a JSON object")
        signed = [notification.get(name) for name in ("order_id", "status_code", "gross_amount")]
        given = notification.get("signature_key")
        if not all(isinstance(value, str) for value in [*signed, given]):
            raise NotificationRejected("Midtrans notification lacks a signed field")
        order_id, status_code, gross_amount = (str(value) for value in signed)
        expected = notification_signature(
            order_id, status_code, gross_amount, self._settings.server_key
        )
        if not hmac.compare_digest(expected.encode(), str(given).lower().encode()):
            raise NotificationRejected("Midtrans notification signature does not match")
        try:
            return _event(notification, status_code, order_id=order_id, with_event_id=True)
        except ValueError as exc:
            raise NotificationRejected(f"Midtrans notification unreadable: {exc}") from exc

    def _call(
        self, method: str, path: str, payload: Mapping[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        """Send one request; return Midtrans's status code and body, or raise when the
        answer is missing or is Midtrans's own failure."""
        try:
            response = self._client.request(
                method,
                self._base_url + path,
                json=payload,
                auth=(self._settings.server_key, ""),
                headers={"Accept": "application/json"},
            )
        except httpx.RequestError as exc:  # timeouts and dropped connections included
            raise GatewayUnavailable(
                f"no answer from Midtrans to {method} {path}: {type(exc).__name__}"
            ) from exc
        if response.status_code >= 500:
            raise GatewayUnavailable(f"Midtrans answered HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            if response.status_code >= 400:
                raise GatewayRefused(f"Midtrans answered HTTP {response.status_code}")
            raise GatewayUnavailable("Midtrans answered without a JSON object")
        code = body.get("status_code")
        code = code if isinstance(code, str) and code else str(response.status_code)
        if code.startswith("5"):
            raise GatewayUnavailable(_describe(code, body))
        return code, body


def _expect(code: str, body: Mapping[str, Any], accepted: frozenset[str]) -> None:
    if code in accepted:
        return
    if code.startswith("4"):
        raise GatewayRefused(_describe(code, body))
    # A code nobody documented: the outcome is unknown, not refused.
    raise GatewayUnavailable(f"unexpected Midtrans status_code {code}")


def _describe(code: str, body: Mapping[str, Any]) -> str:
    message = body.get("status_message")
    text = f"Midtrans {code}: {message if isinstance(message, str) else 'no message'}"
    details = body.get("validation_messages")
    if isinstance(details, list) and details:
        text += " (" + "; ".join(str(detail) for detail in details) + ")"
    return text


def _whole_rupiah(amount: Money) -> int:
    if amount.currency != "IDR":
        raise GatewayRefused(f"Midtrans charges in IDR only, not {amount.currency}")
    if amount.amount <= 0 or not amount.is_whole_charge_unit():
        raise GatewayRefused(f"Midtrans takes a positive whole-rupiah amount, not {amount}")
    return amount.amount // CHARGE_UNITS["IDR"]


def _charge_body(request: CheckoutRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transaction_details": {
            "order_id": request.order_id,
            "gross_amount": _whole_rupiah(request.amount),
        },
        # Rounded down: the order must never stay payable at Midtrans after kuota has
        # given up on it, or a payer could pay for nothing.
        "custom_expiry": {
            "expiry_duration": max(1, request.expires_in_seconds // 60),
            "unit": "minute",
        },
    }
    customer = {
        key: value
        for key, value in (("email", request.customer_email), ("phone", request.customer_msisdn))
        if value
    }
    if customer:
        body["customer_details"] = customer
    if request.method == "card":
        if not request.card_token:
            raise GatewayRefused("a card payment needs the token from Midtrans's card form")
        body["payment_type"] = "credit_card"
        body["credit_card"] = {"token_id": request.card_token, "authentication": True}
    elif request.method == "ewallet" and request.ewallet == "gopay":
        body["payment_type"] = "gopay"
        body["gopay"] = {"enable_callback": True, "callback_url": request.return_url}
    elif request.method == "ewallet" and request.ewallet == "shopeepay":
        body["payment_type"] = "shopeepay"
        body["shopeepay"] = {"callback_url": request.return_url}
    elif request.method == "ewallet":
        raise GatewayRefused(
            f"Midtrans e-wallet must be one of {sorted(_EWALLETS)}, not {request.ewallet!r}"
        )
    elif request.method == "qris":
        body["payment_type"] = "qris"
        body["qris"] = {"acquirer": "gopay"}
    else:
        raise GatewayRefused(f"Midtrans does not take method {request.method!r} here")
    return body


def _next_action(request: CheckoutRequest, code: str, body: Mapping[str, Any]) -> NextAction:
    reference = _text(body, "transaction_id")
    _same_order(body, request.order_id)
    status = _status(body, code)
    if status is not GatewayStatus.PENDING:
        return NextAction(kind="none", provider_reference=reference, status=status)
    actions = _actions(body)
    if request.method == "card":
        redirect_url = body.get("redirect_url")
        if not isinstance(redirect_url, str):
            # A fraud challenge: nothing for the payer to do, staff decide at Midtrans.
            return NextAction(kind="none", provider_reference=reference)
        return NextAction(kind="redirect", url=redirect_url, provider_reference=reference)
    if request.method == "qris":
        return NextAction(
            kind="qr",
            qr_payload=_text(body, "qr_string"),
            url=actions.get("generate-qr-code"),
            provider_reference=reference,
        )
    # GoPay offers its QR image when there is no app to open; ShopeePay has only the app.
    url = actions.get("deeplink-redirect")
    if url is None and request.ewallet == "gopay":
        url = actions.get("generate-qr-code")
    if url is None:
        raise ValueError("no deeplink-redirect action")
    return NextAction(kind="redirect", url=url, provider_reference=reference)


def _event(
    body: Mapping[str, Any], code: str, *, order_id: str, with_event_id: bool = False
) -> GatewayEvent:
    _same_order(body, order_id)
    reference = _text(body, "transaction_id")
    status = _status(body, code)
    # The status Midtrans named (a 407 may name none): one event per transaction state.
    event_id = f"{reference}:{body.get('transaction_status') or status.value}"
    currency = body.get("currency", "IDR")
    if currency != "IDR":
        raise ValueError(f"currency {currency!r} where kuota charged IDR")
    return GatewayEvent(
        order_id=order_id,
        status=status,
        provider_reference=reference,
        amount=parse_gross_amount(_text(body, "gross_amount")),
        event_id=event_id if with_event_id else None,
        raw=dict(body),
    )


def _status(body: Mapping[str, Any], code: str) -> GatewayStatus:
    transaction_status = body.get("transaction_status")
    if not isinstance(transaction_status, str):
        if code == "407":
            return GatewayStatus.EXPIRED
        raise ValueError("no transaction_status")
    fraud_status = body.get("fraud_status")
    return map_status(transaction_status, fraud_status if isinstance(fraud_status, str) else None)


def _same_order(body: Mapping[str, Any], order_id: str) -> None:
    if body.get("order_id") != order_id:
        raise ValueError(f"answer is about order {body.get('order_id')!r}, not {order_id!r}")


def _actions(body: Mapping[str, Any]) -> dict[str, str]:
    actions = body.get("actions")
    if not isinstance(actions, list):
        return {}
    return {
        action["name"]: action["url"]
        for action in actions
        if isinstance(action, dict)
        and isinstance(action.get("name"), str)
        and isinstance(action.get("url"), str)
    }


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"no {name}")
    return value
