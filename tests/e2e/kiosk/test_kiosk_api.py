"""A kiosk over the API: masked lookup, a QRIS sale whose QR image is decoded by an
independent decoder, a card terminal that declines, a receipt printed once, heartbeats
and health as the operator sees them."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import zxingcpp
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import update

from kuota.api.app import create_app
from kuota.core.clock import FixedClock
from kuota.core.config import Settings
from kuota.core.db import Database
from kuota.kiosks.models import Kiosk
from kuota.payments import webhooks
from kuota.payments.providers import Gateways
from kuota.payments.sandbox import SandboxGateway, SandboxSettings

from http_helpers import login

KIOSK = {"X-Kiosk-Key": "demo-kiosk-key-1"}
CARD = "+6281100000001"
OWNER = ("demo@kuota.example", "demo-user-1")
ADMIN = ("admin", "demo-admin-1")
SECRET = webhooks.new_secret()


@pytest.fixture
def kiosk_app(
    demo_db: Database, settings: Settings, clock: FixedClock, tmp_path: Path
) -> Iterator[tuple[TestClient, SandboxGateway, Path]]:
    printer = tmp_path / "kiosk.escpos"
    with demo_db.unit_of_work() as session:
        session.execute(update(Kiosk).values(printer=f"file:{printer}"))
    sandbox = SandboxGateway(
        demo_db, SandboxSettings(public_url=settings.public_url, webhook_secret=SECRET)
    )
    gateways = Gateways({"sandbox": sandbox}, default="sandbox")
    app = create_app(settings, db=demo_db, clock=clock, gateways=gateways)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client, sandbox, printer


def sell(client: TestClient, method: str, key: str | None = None) -> dict[str, object]:
    answer = client.post(
        "/api/v1/renewals",
        json={"msisdn": CARD, "plan_code": "DATA-1GB-7D", "payment_method": method},
        headers={**KIOSK, "Idempotency-Key": key or str(uuid.uuid4())},
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, object] = answer.json()
    return body


def deliver(client: TestClient, sandbox: SandboxGateway) -> None:
    sandbox.deliver_due(
        lambda url, headers, body: (
            client.post(urlsplit(url).path, headers=headers, content=body).status_code
        )
    )


def tlv(payload: str) -> dict[str, str]:
    """EMVCo tag-length-value, parsed here and not with kuota's own parser."""
    fields, at = {}, 0
    while at < len(payload):
        tag, length = payload[at : at + 2], int(payload[at + 2 : at + 4])
        fields[tag] = payload[at + 4 : at + 4 + length]
        at += 4 + length
    return fields


def crc16_ccitt_false(data: bytes) -> str:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return f"{crc:04X}"


def test_the_kiosk_sees_the_card_masked(kiosk_app: tuple[TestClient, SandboxGateway, Path]) -> None:
    client, _, _ = kiosk_app
    card = client.get(f"/api/v1/cards/{CARD}", headers=KIOSK).json()
    assert card == {
        "msisdn": CARD,
        "owner_name_masked": "S*** R*****",
        "packages": [],
    }
    assert client.get(f"/api/v1/cards/{CARD}", headers={"X-Kiosk-Key": "wrong"}).status_code == 401


def test_a_qris_sale_decoded_by_zxing_paid_by_webhook_and_printed_once(
    kiosk_app: tuple[TestClient, SandboxGateway, Path],
) -> None:
    client, sandbox, printer = kiosk_app
    sale = sell(client, "qris")
    assert sale["status"] == "pending_payment" and sale["channel"] == "kiosk"
    payment = sale["payment"]
    assert isinstance(payment, dict)
    png = client.get(f"/api/v1/kiosk/payments/{payment['id']}/qr.png", headers=KIOSK)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert len(decoded) == 1 and decoded[0].format == zxingcpp.BarcodeFormat.QRCode
    payload = decoded[0].text
    assert payload == payment["next_action"]["qr_payload"]
    fields = tlv(payload)
    assert fields["00"] == "01"
    assert fields["01"] == "12"  # dynamic: one payment
    assert tlv(fields["26"])["00"] == "ID.CO.QRIS.WWW"
    assert tlv(fields["51"])["00"] == "ID.CO.QRIS.WWW"
    assert len(fields["52"]) == 4 and fields["52"].isdigit()
    assert fields["53"] == "360"
    assert fields["54"] == "15000"
    assert fields["58"] == "ID"
    assert fields["59"] and fields["60"]
    assert tlv(fields["62"])["07"] == "KSK-0001"
    assert list(fields)[-1] == "63"
    assert fields["63"] == crc16_ccitt_false(payload[:-4].encode("ascii"))
    # Another kiosk may not draw this kiosk's QR.
    other = client.post(
        "/api/v1/admin/kiosks",
        json={"code": "KSK-0009", "location": "Mall", "city": "Jakarta"},
        headers=login(client, *ADMIN),
    ).json()
    other_key = {"X-Kiosk-Key": other["api_key"]}
    assert (
        client.get(f"/api/v1/kiosk/payments/{payment['id']}/qr.png", headers=other_key).status_code
        == 404
    )
    # The payer's bank pays; the gateway's webhook fulfils the sale.
    sandbox.payer_acts(str(payment["id"]), "approve")
    deliver(client, sandbox)
    done = client.get(f"/api/v1/renewals/{sale['id']}", headers=KIOSK).json()
    assert done["status"] == "fulfilled" and done["msisdn"] == "+62811****0001"
    assert client.get(f"/api/v1/renewals/{sale['id']}", headers=other_key).status_code == 404
    receipt_no = done["receipt_no"]
    first = client.post(f"/api/v1/kiosk/receipts/{receipt_no}/print", headers=KIOSK).json()
    again = client.post(f"/api/v1/kiosk/receipts/{receipt_no}/print", headers=KIOSK).json()
    assert first["printed_now"] is True and again["printed_now"] is False
    data = printer.read_bytes()
    assert data.startswith(b"\x1b@") and data.count(receipt_no.encode()) >= 1
    assert data.count(b"\x1b@") == 1  # one receipt, once
    assert b"Stasiun Gambir, Jakarta (KSK-0001)" in data
    assert (
        client.post(f"/api/v1/kiosk/receipts/{receipt_no}/print", headers=other_key).status_code
        == 404
    )


def test_a_declined_card_at_the_terminal_charges_nothing(
    kiosk_app: tuple[TestClient, SandboxGateway, Path],
) -> None:
    client, sandbox, printer = kiosk_app
    sale = sell(client, "kiosk_card")
    payment = sale["payment"]
    assert isinstance(payment, dict)
    assert payment["next_action"]["kind"] == "terminal"
    terminal = client.get(f"/sandbox/checkout/{payment['id']}").text
    for action in ("approve", "decline", "timeout", "remove"):
        assert f'data-action="{action}"' in terminal
    sandbox.payer_acts(str(payment["id"]), "remove")  # the card came out before the end
    deliver(client, sandbox)
    failed = client.get(f"/api/v1/renewals/{sale['id']}", headers=KIOSK).json()
    assert failed["status"] == "failed" and failed["receipt_no"] is None
    owner = client.get(f"/api/v1/cards/{CARD}", headers=login(client, *OWNER)).json()
    assert owner["packages"] == [] and owner["balance"]["amount"] == 20_000_000
    assert not printer.exists()


def test_a_kiosk_sale_retried_with_its_key_is_one_sale(
    kiosk_app: tuple[TestClient, SandboxGateway, Path],
) -> None:
    client, _, _ = kiosk_app
    key = str(uuid.uuid4())
    first, second = sell(client, "qris", key), sell(client, "qris", key)
    assert first["id"] == second["id"]
    assert first["payment"] == second["payment"]


def test_heartbeats_and_the_operators_view_of_kiosk_health(
    kiosk_app: tuple[TestClient, SandboxGateway, Path],
) -> None:
    client, _, _ = kiosk_app
    admin = login(client, *ADMIN)
    registered = client.post(
        "/api/v1/admin/kiosks",
        json={
            "code": "ksk-0002",
            "location": "Stasiun Bandung",
            "city": "Bandung",
            "latitude": -6.914,
            "longitude": 107.602,
        },
        headers=admin,
    )
    assert registered.status_code == 201 and registered.json()["api_key"].startswith("ksk_")
    assert registered.json()["code"] == "KSK-0002"
    duplicate = client.post(
        "/api/v1/admin/kiosks", json={"code": "KSK-0002", "location": "x"}, headers=admin
    )
    assert duplicate.status_code == 409
    half = client.post(
        "/api/v1/admin/kiosks",
        json={"code": "KSK-0003", "location": "x", "latitude": 1.0},
        headers=admin,
    )
    assert half.status_code == 422 and "longitude" in half.json()["detail"]
    beat = client.post(
        "/api/v1/kiosk/heartbeat",
        json={"printer_status": "ok", "paper_status": "low", "app_version": "web-1"},
        headers=KIOSK,
    )
    assert beat.status_code == 200 and beat.json()["next_beat_seconds"] == 60
    bad = client.post(
        "/api/v1/kiosk/heartbeat",
        json={"printer_status": "fine", "paper_status": "ok"},
        headers=KIOSK,
    )
    assert bad.status_code == 422 and "printer_status" in bad.text
    health = {k["code"]: k for k in client.get("/api/v1/admin/kiosks", headers=admin).json()}
    assert health["KSK-0001"]["online"] is True and health["KSK-0001"]["paper_status"] == "low"
    assert health["KSK-0002"]["online"] is False and health["KSK-0002"]["last_seen_at"] is None
    subscriber = login(client, *OWNER)
    assert client.get("/api/v1/admin/kiosks", headers=subscriber).status_code == 403
    assert (
        client.post(
            "/api/v1/kiosk/heartbeat",
            json={"printer_status": "ok", "paper_status": "ok"},
            headers=subscriber,
        ).status_code
        == 403
    )


def test_the_operator_rekeys_withdraws_and_repoints_a_kiosk(
    kiosk_app: tuple[TestClient, SandboxGateway, Path],
) -> None:
    client, _, _ = kiosk_app
    admin = login(client, *ADMIN)
    rekeyed = client.patch("/api/v1/admin/kiosks/ksk-0001", json={"new_key": True}, headers=admin)
    assert rekeyed.status_code == 200
    new_key = {"X-Kiosk-Key": rekeyed.json()["api_key"]}
    assert client.get(f"/api/v1/cards/{CARD}", headers=KIOSK).status_code == 401  # old key
    assert client.get(f"/api/v1/cards/{CARD}", headers=new_key).status_code == 200
    bad = client.patch("/api/v1/admin/kiosks/KSK-0001", json={"printer": "lpt1"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["field"] == "printer"
    assert (
        client.patch(
            "/api/v1/admin/kiosks/KSK-0001",
            json={"printer": "network:10.0.0.9:9100"},
            headers=admin,
        ).json()["printer"]
        == "network:10.0.0.9:9100"
    )
    assert (
        client.patch(
            "/api/v1/admin/kiosks/KSK-0001", json={"authorised": False}, headers=admin
        ).status_code
        == 200
    )
    assert client.get(f"/api/v1/cards/{CARD}", headers=new_key).status_code == 401
    assert client.get("/api/v1/outlets", params={"code": "KSK-0001"}).json() == []
    assert client.patch("/api/v1/admin/kiosks/NOPE", json={}, headers=admin).status_code == 404


def test_a_cancelled_qris_sale_can_no_longer_be_paid(
    kiosk_app: tuple[TestClient, SandboxGateway, Path],
) -> None:
    client, sandbox, _ = kiosk_app
    sale = sell(client, "qris")
    payment = sale["payment"]
    assert isinstance(payment, dict)
    cancelled = client.post(f"/api/v1/kiosk/renewals/{sale['id']}/cancel", headers=KIOSK)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "failed"
    assert cancelled.json()["payment"]["status"] == "expired"
    # The customer's banking app tries to pay the QR afterwards: the gateway refuses it.
    sandbox.payer_acts(str(payment["id"]), "approve")
    deliver(client, sandbox)
    after = client.get(f"/api/v1/renewals/{sale['id']}", headers=KIOSK).json()
    assert after["status"] == "failed" and after["receipt_no"] is None
    owner = client.get(f"/api/v1/cards/{CARD}", headers=login(client, *OWNER)).json()
    assert owner["packages"] == [] and owner["balance"]["amount"] == 20_000_000
    again = client.post(f"/api/v1/kiosk/renewals/{sale['id']}/cancel", headers=KIOSK)
    assert again.status_code == 200 and again.json()["status"] == "failed"
    other = client.post(
        "/api/v1/admin/kiosks",
        json={"code": "KSK-0008", "location": "Mall"},
        headers=login(client, *ADMIN),
    ).json()
    assert (
        client.post(
            f"/api/v1/kiosk/renewals/{sale['id']}/cancel", headers={"X-Kiosk-Key": other["api_key"]}
        ).status_code
        == 404
    )


def test_cancel_after_the_customer_paid_fulfils_the_sale(
    kiosk_app: tuple[TestClient, SandboxGateway, Path],
) -> None:
    client, sandbox, _ = kiosk_app
    sale = sell(client, "qris")
    payment = sale["payment"]
    assert isinstance(payment, dict)
    sandbox.payer_acts(str(payment["id"]), "approve")  # paid; the webhook is not here yet
    cancelled = client.post(f"/api/v1/kiosk/renewals/{sale['id']}/cancel", headers=KIOSK).json()
    assert cancelled["status"] == "fulfilled" and cancelled["receipt_no"]
    deliver(client, sandbox)  # the late webhook changes nothing more
    owner = client.get(f"/api/v1/cards/{CARD}", headers=login(client, *OWNER)).json()
    assert len(owner["packages"]) == 1
