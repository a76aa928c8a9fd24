"""The Midtrans adapter at its HTTP boundary: every request is checked against a recorded
pair in tests/fixtures/midtrans/ and answered with the recorded response."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from kuota.core.money import Money
from kuota.payments.gateway import (
    CheckoutRequest,
    GatewayRefused,
    GatewayStatus,
    GatewayUnavailable,
    NextAction,
    NotificationRejected,
    PaymentGateway,
)
from kuota.payments.midtrans import (
    MidtransGateway,
    MidtransSettings,
    UnknownMidtransStatus,
    map_status,
    parse_gross_amount,
    refund_key,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "midtrans"
SERVER_KEY = "SB-Mid-server-kuota-unit-test"  # the key the notification fixtures are signed with
BASIC_AUTH = "Basic " + base64.b64encode(f"{SERVER_KEY}:".encode()).decode()
RETURN_URL = "https://kuota.example/pay/return"
NOW = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text())
    return data


class Recorded:
    """A transport that expects the recorded requests in order and replays their answers."""

    def __init__(self, *names: str) -> None:
        self.pending = [load(name) for name in names]

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert self.pending, f"unexpected request {request.method} {request.url}"
        pair = self.pending.pop(0)
        expected = pair["request"]
        assert request.method == expected["method"]
        assert str(request.url) == expected["url"]
        assert request.headers["authorization"] == BASIC_AUTH
        assert request.headers["accept"] == "application/json"
        if "json" in expected:
            assert request.headers["content-type"] == "application/json"
            assert json.loads(request.content) == expected["json"]
        else:
            assert request.content == b""
        answer = pair["response"]
        if "body" in answer:
            return httpx.Response(answer["status"], json=answer["body"])
        return httpx.Response(answer["status"], text=answer["text"])


def gateway(*names: str) -> tuple[MidtransGateway, Recorded]:
    recorded = Recorded(*names)
    client = httpx.Client(transport=httpx.MockTransport(recorded))
    return MidtransGateway(MidtransSettings(server_key=SERVER_KEY), client=client), recorded


def failing(exc: Callable[[httpx.Request], Exception]) -> MidtransGateway:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc(request)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    return MidtransGateway(MidtransSettings(server_key=SERVER_KEY), client=client)


def checkout(order_id: str, rupiah: int, method: str, **extra: Any) -> CheckoutRequest:
    return CheckoutRequest(
        order_id=order_id,
        method=method,
        amount=Money(rupiah * 100, "IDR"),
        description="Kuota 10 GB 30 hari",
        return_url=RETURN_URL,
        **extra,
    )


def test_is_a_payment_gateway() -> None:
    midtrans: PaymentGateway = MidtransGateway(MidtransSettings(server_key=SERVER_KEY))
    assert midtrans.name == "midtrans"
    assert midtrans.methods == frozenset({"card", "ewallet", "qris"})


def test_server_key_stays_out_of_repr() -> None:
    assert SERVER_KEY not in repr(MidtransSettings(server_key=SERVER_KEY))


@pytest.mark.parametrize(
    ("transaction_status", "fraud_status", "expected"),
    [
        ("capture", "accept", GatewayStatus.SUCCEEDED),
        ("capture", "challenge", GatewayStatus.PENDING),
        ("capture", "deny", GatewayStatus.FAILED),
        ("capture", None, GatewayStatus.PENDING),
        ("settlement", "accept", GatewayStatus.SUCCEEDED),
        ("settlement", None, GatewayStatus.SUCCEEDED),
        ("pending", "accept", GatewayStatus.PENDING),
        ("authorize", "accept", GatewayStatus.PENDING),
        ("deny", "accept", GatewayStatus.FAILED),
        ("cancel", None, GatewayStatus.FAILED),
        ("failure", None, GatewayStatus.FAILED),
        ("expire", "accept", GatewayStatus.EXPIRED),
        ("refund", "accept", GatewayStatus.REFUNDED),
        ("partial_refund", "accept", GatewayStatus.SUCCEEDED),  # kuota refunds in full only
    ],
)
def test_status_mapping(
    transaction_status: str, fraud_status: str | None, expected: GatewayStatus
) -> None:
    assert map_status(transaction_status, fraud_status) is expected


def test_unknown_status_is_not_guessed() -> None:
    with pytest.raises(UnknownMidtransStatus):
        map_status("chargeback", None)


@pytest.mark.parametrize(
    ("text", "minor_units"),
    [("15000.00", 1_500_000), ("15000", 1_500_000), ("0.50", 50), ("789000.00", 78_900_000)],
)
def test_gross_amount_is_parsed_exactly(text: str, minor_units: int) -> None:
    assert parse_gross_amount(text) == Money(minor_units, "IDR")


@pytest.mark.parametrize("text", ["15000.005", "-15000.00", "1e4", "NaN", "", "15 000", "1_000"])
def test_gross_amount_that_is_not_plain_money_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="gross_amount"):
        parse_gross_amount(text)


def test_card_charge_asks_for_3ds_and_redirects_to_it() -> None:
    midtrans, recorded = gateway("charge_card_3ds")
    action = midtrans.start_checkout(
        checkout(
            "order102",
            789_000,
            "card",
            card_token="481111-1114-77328ff4-eba6-4201-b31a-1070d8f19ae9",
            customer_email="budi.pra@example.com",
            customer_msisdn="08111222333",
        )
    )
    assert action == NextAction(
        kind="redirect",
        url="https://api.sandbox.veritrans.co.id/v2/token/rba/redirect/481111-1114-0bb563a9-ebea-41f7-ae9f-d99ec5f9700a",
        provider_reference="0bb563a9-ebea-41f7-ae9f-d99ec5f9700a",
        status=GatewayStatus.PENDING,
    )
    assert not recorded.pending


def test_gopay_charge_opens_the_app() -> None:
    midtrans, _ = gateway("charge_gopay")
    action = midtrans.start_checkout(
        checkout("order-101h-1570513296", 44_000, "ewallet", ewallet="gopay")
    )
    assert action.kind == "redirect"
    assert action.url is not None
    assert action.url.startswith("https://simulator.sandbox.midtrans.com/gopay/ui/checkout?")
    assert action.provider_reference == "231c79c5-e39e-4993-86da-cadcaee56c1d"


def test_gopay_without_deeplink_falls_back_to_its_qr_image() -> None:
    midtrans, _ = gateway("charge_gopay_qr_only")
    action = midtrans.start_checkout(
        checkout("order-101h-1570513296", 44_000, "ewallet", ewallet="gopay")
    )
    assert action.kind == "redirect"
    assert action.url == (
        "https://api.sandbox.veritrans.co.id/v2/gopay/231c79c5-e39e-4993-86da-cadcaee56c1d/qr-code"
    )


def test_shopeepay_charge_opens_the_app() -> None:
    midtrans, _ = gateway("charge_shopeepay")
    action = midtrans.start_checkout(
        checkout(
            "test-order-shopeepay-001",
            25_000,
            "ewallet",
            ewallet="shopeepay",
            customer_email="john@example.com",
            customer_msisdn="0819323212312",
            expires_in_seconds=5 * 60 + 59,  # rounded down to whole minutes
        )
    )
    assert action.kind == "redirect"
    assert action.url is not None
    assert action.url.startswith("https://wsa.uat.wallet.airpay.co.id/universal-link/wallet/pay?")
    assert action.provider_reference == "bb379c3a-218b-47c7-9b0b-25f71f0f1231"


def test_qris_charge_gives_the_qr_string() -> None:
    midtrans, _ = gateway("charge_qris")
    action = midtrans.start_checkout(checkout("order102", 789_000, "qris"))
    assert action.kind == "qr"
    assert action.qr_payload == "00020...a-long-string...75C"
    assert action.provider_reference == "01bf5e23-7183-4cfe-862c-58a3f6e8f0a2"
    assert action.status is GatewayStatus.PENDING


def test_duplicate_order_id_is_refused_with_midtrans_words() -> None:
    midtrans, _ = gateway("charge_duplicate_order")
    with pytest.raises(GatewayRefused, match="406: order_id has been paid and utilized"):
        midtrans.start_checkout(
            checkout("order-101h-1570513296", 44_000, "ewallet", ewallet="gopay")
        )


def test_midtrans_internal_error_is_unavailable_not_refused() -> None:
    midtrans, _ = gateway("charge_server_error")
    with pytest.raises(GatewayUnavailable, match="500"):
        midtrans.start_checkout(
            checkout("order-101h-1570513296", 44_000, "ewallet", ewallet="gopay")
        )


def test_http_5xx_without_json_is_unavailable() -> None:
    midtrans, _ = gateway("status_gateway_down")
    with pytest.raises(GatewayUnavailable, match="HTTP 503"):
        midtrans.fetch_status("Postman-1578568851")


@pytest.mark.parametrize(
    "exc",
    [
        lambda request: httpx.ReadTimeout("timed out", request=request),
        lambda request: httpx.ConnectTimeout("timed out", request=request),
        lambda request: httpx.ConnectError("connection refused", request=request),
    ],
)
def test_no_answer_is_unavailable(exc: Callable[[httpx.Request], Exception]) -> None:
    with pytest.raises(GatewayUnavailable, match="no answer from Midtrans"):
        failing(exc).start_checkout(checkout("order102", 789_000, "qris"))


@pytest.mark.parametrize(
    ("request_", "problem"),
    [
        (checkout("order102", 789_000, "card"), "token"),
        (checkout("order102", 789_000, "ewallet", ewallet="ovo"), "e-wallet"),
        (checkout("order102", 789_000, "kiosk_card"), "kiosk_card"),
        (
            CheckoutRequest("order102", "qris", Money(78_900_050, "IDR"), "x", RETURN_URL),
            "whole-rupiah",
        ),
        (CheckoutRequest("order102", "qris", Money(1_000, "USD"), "x", RETURN_URL), "IDR only"),
    ],
)
def test_impossible_charges_are_refused_before_calling_midtrans(
    request_: CheckoutRequest, problem: str
) -> None:
    midtrans, _ = gateway()  # no request may be sent
    with pytest.raises(GatewayRefused, match=problem):
        midtrans.start_checkout(request_)


def test_status_settlement() -> None:
    midtrans, _ = gateway("status_settlement")
    event = midtrans.fetch_status("Postman-1578568851")
    assert event.order_id == "Postman-1578568851"
    assert event.status is GatewayStatus.SUCCEEDED
    assert event.provider_reference == "57d5293c-e65f-4a29-95e4-5959c3fa335b"
    assert event.amount == Money(1_000_000, "IDR")
    assert event.raw["settlement_time"] == "2020-01-10 16:15:31"


def test_status_capture_accepted_is_succeeded() -> None:
    midtrans, _ = gateway("status_capture_accept")
    event = midtrans.fetch_status("test-transaction-54321")
    assert event.status is GatewayStatus.SUCCEEDED
    assert event.amount == Money(10_000_000, "IDR")


def test_status_capture_challenged_is_not_yet_succeeded() -> None:
    midtrans, _ = gateway("status_capture_challenge")
    event = midtrans.fetch_status("pay_5b0e2a9c41d7f3e86a12")
    assert event.status is GatewayStatus.PENDING
    assert event.amount == Money(1_500_000, "IDR")  # "15000.00"


def test_status_denied_card_is_failed() -> None:
    midtrans, _ = gateway("status_deny")
    assert midtrans.fetch_status("test-transaction-54321").status is GatewayStatus.FAILED


def test_status_expired_order_is_expired() -> None:
    midtrans, _ = gateway("status_expire")
    event = midtrans.fetch_status("order102")
    assert event.status is GatewayStatus.EXPIRED
    assert event.amount == Money(78_900_000, "IDR")


def test_status_of_an_order_midtrans_never_saw_is_refused() -> None:
    midtrans, _ = gateway("status_unknown_order")
    with pytest.raises(GatewayRefused, match="unknown order"):
        midtrans.fetch_status("pay_0000000000000000dead")


def test_refund_in_full() -> None:
    midtrans, _ = gateway("refund_full")
    result = midtrans.refund(
        "Postman-1578568851", Money(1_000_000, "IDR"), "Subscriber cancelled the renewal"
    )
    assert result.order_id == "Postman-1578568851"
    assert result.refund_reference == "Postman-1578568851-refund"
    assert result.amount == Money(1_000_000, "IDR")


def test_refund_retried_after_a_lost_answer_is_confirmed_by_status() -> None:
    midtrans, recorded = gateway("refund_duplicate_key", "status_refunded")
    result = midtrans.refund(
        "Postman-1578568851", Money(1_000_000, "IDR"), "Subscriber cancelled the renewal"
    )
    assert result.refund_reference == "Postman-1578568851-refund"
    assert not recorded.pending


def test_refund_denied_by_the_bank_is_refused() -> None:
    midtrans, _ = gateway("refund_denied")
    with pytest.raises(GatewayRefused, match="Refund denied by the bank"):
        midtrans.refund(
            "Postman-1578568851", Money(1_000_000, "IDR"), "Subscriber cancelled the renewal"
        )


def test_refund_key_is_stable_and_uses_allowed_characters() -> None:
    assert refund_key("pay_5b0e2a9c41d7f3e86a12") == "pay_5b0e2a9c41d7f3e86a12-refund"
    assert refund_key("order.1~a") == "order_1_a-refund"


def notification(name: str) -> tuple[dict[str, str], dict[str, Any]]:
    recorded = load(name)
    return recorded["headers"], recorded["body"]


def signed(body: dict[str, Any], server_key: str = SERVER_KEY) -> dict[str, Any]:
    text = body["order_id"] + body["status_code"] + body["gross_amount"] + server_key
    return {**body, "signature_key": hashlib.sha512(text.encode()).hexdigest()}


def test_notification_fixtures_are_signed_with_the_test_key() -> None:
    for name in ("notification_gopay_settlement", "notification_card_capture"):
        _, body = notification(name)
        assert signed(body) == body


def test_notification_with_valid_signature_is_read() -> None:
    midtrans, _ = gateway()
    headers, body = notification("notification_gopay_settlement")
    event = midtrans.verify_notification(headers, json.dumps(body).encode(), NOW)
    assert event.order_id == "order03"
    assert event.status is GatewayStatus.SUCCEEDED
    assert event.amount == Money(27_500_000, "IDR")
    assert event.provider_reference == "1c28dbbb-8596-48e4-85d7-9f1382db8a1f"
    assert event.event_id == "1c28dbbb-8596-48e4-85d7-9f1382db8a1f:settlement"


def test_card_capture_notification_is_read() -> None:
    midtrans, _ = gateway()
    headers, body = notification("notification_card_capture")
    event = midtrans.verify_notification(headers, json.dumps(body).encode(), NOW)
    assert event.status is GatewayStatus.SUCCEEDED
    assert event.event_id == "57d5293c-e65f-4a29-95e4-5959c3fa335b:capture"


@pytest.mark.parametrize(
    "forge",
    [
        lambda body: {**body, "gross_amount": "1.00"},  # amount changed after signing
        lambda body: {**body, "status_code": "201"},
        lambda body: signed(body, server_key="SB-Mid-server-someone-else"),
        lambda body: {**body, "signature_key": "0" * 128},
    ],
)
def test_forged_notification_is_rejected(
    forge: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    midtrans, _ = gateway()
    headers, body = notification("notification_gopay_settlement")
    with pytest.raises(NotificationRejected, match="signature"):
        midtrans.verify_notification(headers, json.dumps(forge(body)).encode(), NOW)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"order_id=order03&status_code=200", "not JSON"),
        (b"\xff\xfe{", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (json.dumps({"order_id": "order03", "status_code": "200"}).encode(), "signed field"),
    ],
)
def test_malformed_notification_is_rejected(raw: bytes, problem: str) -> None:
    midtrans, _ = gateway()
    with pytest.raises(NotificationRejected, match=problem):
        midtrans.verify_notification({}, raw, NOW)


def test_signed_notification_with_an_unknown_status_is_rejected() -> None:
    midtrans, _ = gateway()
    _, body = notification("notification_gopay_settlement")
    body = signed({**body, "transaction_status": "chargeback"})
    with pytest.raises(NotificationRejected, match="chargeback"):
        midtrans.verify_notification({}, json.dumps(body).encode(), NOW)


def test_cancel_expires_a_pending_order() -> None:
    midtrans, recorded = gateway("expire_pending")
    event = midtrans.cancel("order102")
    assert event.status is GatewayStatus.EXPIRED and event.order_id == "order102"
    assert not recorded.pending


def test_cancel_of_an_order_paid_meanwhile_reports_it_paid() -> None:
    midtrans, recorded = gateway("expire_settled", "status_settlement")
    event = midtrans.cancel("Postman-1578568851")
    assert event.status is GatewayStatus.SUCCEEDED
    assert not recorded.pending
