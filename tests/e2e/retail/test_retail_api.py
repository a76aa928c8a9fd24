"""Selling at a store over the API: the NIK check, the float, the commission, what staff
and owners see, printing; and nobody sees another retailer's data."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from kuota.core.db import Database
from kuota.core.models import AuditEvent
from kuota.retail.models import FraudFlag, IdentityCheck, Store

from http_helpers import login

STAFF = ("toko-melati", "demo-retail-1")
OWNER = ("melati-owner", "demo-owner-1")
OTHER_STAFF = ("toko-anggrek", "demo-retail-2")
ADMIN = ("admin", "demo-admin-1")
CARD = "+6281100000001"
NIK = "3171010101900001"


def sell(
    client: TestClient,
    who: tuple[str, str],
    nik: str = NIK,
    plan: str = "DATA-5GB-30D",
    **extra: object,
) -> tuple[int, dict[str, object]]:
    answer = client.post(
        "/api/v1/renewals",
        json={
            "msisdn": CARD,
            "plan_code": plan,
            "payment_method": "retail_float",
            "identity": {"nik": nik},
            **extra,
        },
        headers={**login(client, *who), "Idempotency-Key": str(uuid.uuid4())},
    )
    return answer.status_code, answer.json()


def float_of(client: TestClient) -> int:
    statement = client.get("/api/v1/retail/float-statement", headers=login(client, *OWNER)).json()
    return int(statement["current_balance"]["amount"])


def test_a_store_sale_checks_the_nik_and_draws_price_less_commission(client: TestClient) -> None:
    before = float_of(client)
    status, sale = sell(client, STAFF)
    assert status == 201, sale
    assert sale["status"] == "fulfilled" and sale["channel"] == "retail"
    assert sale["payment"]["method"] == "retail_float"
    # Rp 50.000 at 5 % commission: Rp 2.500 stays with the store, Rp 47.500 leaves the float.
    assert float_of(client) == before - 4_750_000
    statement = client.get("/api/v1/retail/float-statement", headers=login(client, *OWNER)).json()
    assert statement["commission_earned"]["amount"] == 250_000
    last = statement["movements"][-1]
    assert last["change"]["amount"] == -4_750_000
    assert last["balance"]["amount"] == statement["current_balance"]["amount"]
    csv_rows = (
        client.get(
            "/api/v1/retail/float-statement",
            params={"format": "csv"},
            headers=login(client, *OWNER),
        )
        .text.strip()
        .splitlines()
    )
    assert csv_rows[0] == "created_at,kind,reference,memo,change_idr,balance_idr"
    assert csv_rows[-1].endswith(",-47500,4952500")
    # The SMS confirmation is queued like any other sale's; the card sees its package.
    card = client.get(f"/api/v1/cards/{CARD}", headers=login(client, *STAFF)).json()
    assert card["owner_name_masked"] == "S*** R*****" and "balance" not in card
    assert card["packages"][0]["plan_code"] == "DATA-5GB-30D"


def test_a_wrong_nik_is_refused_counted_and_three_raise_a_fraud_flag(
    client: TestClient, demo_db: Database
) -> None:
    before = float_of(client)
    for attempt in range(3):
        status, problem = sell(client, STAFF, nik=f"317101010190000{attempt + 2}")
        assert status == 403, problem
        assert "does not match" in str(problem["detail"])
    assert sell(client, STAFF, nik="12345")[0] == 422  # not a NIK at all: nothing compared
    assert float_of(client) == before
    with demo_db.unit_of_work(write=False) as session:
        checks = session.execute(select(IdentityCheck.matched)).scalars().all()
        flags = session.execute(select(FraudFlag.kind, FraudFlag.subject)).all()
    assert checks == [False, False, False]
    assert len(flags) == 1 and flags[0].kind == "identity_mismatches"
    seen = client.get("/api/v1/admin/fraud-flags", headers=login(client, *ADMIN)).json()
    assert seen[0]["detail"].startswith("3 NIK mismatches")


def test_a_short_float_is_refused_with_the_amounts_and_changes_nothing(
    client: TestClient, demo_db: Database
) -> None:
    status, sale = sell(client, OTHER_STAFF, plan="DATA-20GB-30D")
    assert status == 201, sale  # Toko Anggrek, Rp 1.000.000 float, 4 % commission
    spent = 0
    while True:
        status, answer = sell(client, OTHER_STAFF, plan="DATA-20GB-30D")
        if status != 201:
            break
        spent += 1
    assert status == 402
    assert "float is less than the Rp 115.200" in str(answer["detail"])
    assert "deposit" in str(answer["detail"]) and "float" not in answer  # amount hidden
    assert spent == 7  # 8 × Rp 115.200 fit in Rp 1.000.000; the 9th does not
    owner = client.get("/api/v1/retail/float-statement", headers=login(client, *OWNER)).json()
    assert owner["current_balance"]["amount"] == 500_000_000  # Melati untouched by Anggrek


def test_staff_see_their_store_owners_all_stores_and_nobody_another_retailers(
    client: TestClient,
) -> None:
    assert sell(client, STAFF)[0] == 201
    assert sell(client, OTHER_STAFF)[0] == 201
    staff_sales = client.get("/api/v1/retail/sales", headers=login(client, *STAFF)).json()
    assert [s["store"] for s in staff_sales] == ["RTL-0001"]
    assert staff_sales[0]["msisdn_masked"] == "+62811****0001"
    owner_sales = client.get("/api/v1/retail/sales", headers=login(client, *OWNER)).json()
    assert [s["store"] for s in owner_sales] == ["RTL-0001"]
    other = login(client, *OTHER_STAFF)
    assert [s["store"] for s in client.get("/api/v1/retail/sales", headers=other).json()] == [
        "RTL-0101"
    ]
    for params in ({"store": "RTL-0001"}, {"store": "RTL-0002"}):
        assert client.get("/api/v1/retail/sales", params=params, headers=other).status_code == 404
    assert client.get("/api/v1/retail/float-statement", headers=other).status_code == 403
    staff = login(client, *STAFF)
    assert (
        client.get("/api/v1/retail/sales", params={"store": "RTL-0101"}, headers=staff).status_code
        == 404
    )
    sale_id = staff_sales[0]["id"]
    assert client.get(f"/api/v1/renewals/{sale_id}", headers=other).status_code == 404
    seen = client.get(f"/api/v1/renewals/{sale_id}", headers=staff).json()
    assert seen["msisdn"] == "+62811****0001"
    subscriber = login(client, "demo2@kuota.example", "demo-user-2")
    assert client.get("/api/v1/retail/sales", headers=subscriber).status_code == 403


class PrinterSocket:
    """A network receipt printer: accepts raw bytes on a TCP port, as port 9100 does."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.received: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            with connection:
                chunks = []
                while chunk := connection.recv(65536):
                    chunks.append(chunk)
                self.received.append(b"".join(chunks))

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def printer() -> PrinterSocket:
    listening = PrinterSocket()
    yield listening  # type: ignore[misc]
    listening.close()


def test_the_receipt_prints_once_on_the_stores_network_printer(
    client: TestClient, demo_db: Database, printer: PrinterSocket
) -> None:
    with demo_db.unit_of_work() as session:
        session.execute(
            update(Store)
            .where(Store.code == "RTL-0001")
            .values(printer=f"network:127.0.0.1:{printer.port}")
        )
    status, sale = sell(client, STAFF)
    assert status == 201, sale
    receipt_no = str(sale["receipt_no"])
    staff = login(client, *STAFF)
    first = client.post(f"/api/v1/retail/receipts/{receipt_no}/print", headers=staff).json()
    again = client.post(f"/api/v1/retail/receipts/{receipt_no}/print", headers=staff).json()
    assert first["printed_now"] is True and again["printed_now"] is False
    forced = client.post(
        f"/api/v1/retail/receipts/{receipt_no}/print", params={"again": "true"}, headers=staff
    ).json()
    assert forced["printed_now"] is True
    with demo_db.unit_of_work(write=False) as session:
        copies = (
            session.execute(
                select(AuditEvent.actor).where(
                    AuditEvent.action == "receipt.reprint", AuditEvent.target == receipt_no
                )
            )
            .scalars()
            .all()
        )
    assert len(copies) == 1 and copies[0].endswith(":toko-melati")  # a copy is never unseen
    deadline = time.monotonic() + 5
    while len(printer.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(printer.received) == 2
    data = printer.received[0]
    assert data.startswith(b"\x1b@") and receipt_no.encode() in data
    assert b"Toko Melati (RTL-0001)" in data and b"\x1dV" in data
    other = login(client, *OTHER_STAFF)
    assert (
        client.post(f"/api/v1/retail/receipts/{receipt_no}/print", headers=other).status_code == 404
    )


def test_a_printer_that_is_down_is_a_clear_503_and_can_be_retried(
    client: TestClient, demo_db: Database, tmp_path: Path
) -> None:
    with demo_db.unit_of_work() as session:
        session.execute(
            update(Store).where(Store.code == "RTL-0001").values(printer="network:127.0.0.1:1")
        )
    receipt_no = str(sell(client, STAFF)[1]["receipt_no"])
    staff = login(client, *STAFF)
    down = client.post(f"/api/v1/retail/receipts/{receipt_no}/print", headers=staff)
    assert down.status_code == 503 and "did not take the receipt" in down.json()["detail"]
    spool = tmp_path / "till.escpos"
    with demo_db.unit_of_work() as session:
        session.execute(
            update(Store).where(Store.code == "RTL-0001").values(printer=f"file:{spool}")
        )
    assert client.post(f"/api/v1/retail/receipts/{receipt_no}/print", headers=staff).json()[
        "printed_now"
    ]
    assert receipt_no.encode() in spool.read_bytes()


def test_the_operator_resolves_a_fraud_flag_once(client: TestClient) -> None:
    for attempt in range(3):
        assert sell(client, STAFF, nik=f"317101010190000{attempt + 2}")[0] == 403
    admin = login(client, *ADMIN)
    flag = client.get("/api/v1/admin/fraud-flags", headers=admin).json()[0]
    assert flag["resolved_at"] is None
    done = client.post(
        f"/api/v1/admin/fraud-flags/{flag['id']}/resolution",
        json={"note": "staff retrained; customer had two cards"},
        headers=admin,
    )
    assert done.status_code == 200
    again = client.post(
        f"/api/v1/admin/fraud-flags/{flag['id']}/resolution", json={"note": "x"}, headers=admin
    )
    assert again.status_code == 409
    assert client.get("/api/v1/admin/fraud-flags", headers=admin).json()[0]["resolved_at"]
    staff = login(client, *STAFF)
    assert (
        client.post(
            f"/api/v1/admin/fraud-flags/{flag['id']}/resolution", json={"note": "x"}, headers=staff
        ).status_code
        == 403
    )


def test_the_operator_points_a_store_at_another_printer(client: TestClient) -> None:
    admin = login(client, *ADMIN)
    assert (
        client.put(
            "/api/v1/admin/stores/RTL-0001/printer",
            json={"printer": "usb:04b8:0202"},
            headers=admin,
        ).status_code
        == 200
    )
    bad = client.put(
        "/api/v1/admin/stores/RTL-0001/printer", json={"printer": "usb:printer"}, headers=admin
    )
    assert bad.status_code == 422 and bad.json()["field"] == "printer"
    assert (
        client.put(
            "/api/v1/admin/stores/NOPE/printer", json={"printer": ""}, headers=admin
        ).status_code
        == 404
    )
