"""The operator opens a retailer: store, staff, float deposit, commission per plan; the
staff sells; withdrawing the store's authorisation stops it. Bad input changes nothing."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from kuota.core.db import Database
from kuota.core.models import AuditEvent
from kuota.retail.models import Retailer, Store

from http_helpers import login

ADMIN = ("admin", "demo-admin-1")


def test_the_operator_opens_a_retailer_that_then_sells(
    client: TestClient, demo_db: Database
) -> None:
    admin = login(client, *ADMIN)
    assert (
        client.post(
            "/api/v1/admin/retailers",
            json={"code": "mawar", "name": "Toko Mawar", "commission_basis_points": 300},
            headers=admin,
        ).status_code
        == 201
    )
    store = client.post(
        "/api/v1/admin/retailers/MAWAR/stores",
        json={
            "code": "RTL-0201",
            "name": "Toko Mawar",
            "city": "Surabaya",
            "latitude": -7.2575,
            "longitude": 112.7521,
            "open_days": "123456",
        },
        headers=admin,
    )
    assert store.status_code == 201, store.text
    person = client.post(
        "/api/v1/admin/retailers/MAWAR/people",
        json={
            "username": "toko-mawar",
            "password": "mawar-pass-1",
            "role": "retail_staff",
            "store_code": "RTL-0201",
        },
        headers=admin,
    )
    assert person.status_code == 201, person.text
    plan_rate = client.put(
        "/api/v1/admin/retailers/MAWAR/commission",
        json={"plan_code": "DATA-1GB-7D", "basis_points": 1000},
        headers=admin,
    )
    assert plan_rate.status_code == 200
    deposit = client.post(
        "/api/v1/admin/retailers/MAWAR/float-deposits",
        json={"amount": {"amount": 10_000_000, "currency": "IDR"}, "reference": "TRF-1"},
        headers={**admin, "Idempotency-Key": "dep-1"},
    )
    assert deposit.status_code == 201 and deposit.json()["float"]["amount"] == 10_000_000
    replay = client.post(
        "/api/v1/admin/retailers/MAWAR/float-deposits",
        json={"amount": {"amount": 10_000_000, "currency": "IDR"}, "reference": "TRF-1"},
        headers={**admin, "Idempotency-Key": "dep-1"},
    )
    assert replay.json()["float"]["amount"] == 10_000_000  # deposited once
    staff = login(client, "toko-mawar", "mawar-pass-1")
    sale = client.post(
        "/api/v1/renewals",
        json={
            "msisdn": "+6281100000001",
            "plan_code": "DATA-1GB-7D",
            "payment_method": "retail_float",
            "identity": {"nik": "3171010101900001"},
        },
        headers={**staff, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert sale.status_code == 201, sale.text
    sales = client.get("/api/v1/retail/sales", headers=staff).json()
    assert sales[0]["commission"]["amount"] == 150_000  # the plan's 10 %, not the overall 3 %
    withdrawn = client.put(
        "/api/v1/admin/stores/RTL-0201/authorisation", json={"authorised": False}, headers=admin
    )
    assert withdrawn.status_code == 200
    refused = client.post(
        "/api/v1/renewals",
        json={
            "msisdn": "+6281100000001",
            "plan_code": "DATA-1GB-7D",
            "payment_method": "retail_float",
            "identity": {"nik": "3171010101900001"},
        },
        headers={**staff, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert refused.status_code == 403 and "no longer authorised" in refused.json()["detail"]
    assert client.get("/api/v1/outlets", params={"code": "RTL-0201"}).json() == []
    with demo_db.unit_of_work(write=False) as session:
        actions = set(session.execute(select(AuditEvent.action)).scalars())
    assert {
        "retailer.create",
        "store.create",
        "retail_user.create",
        "retailer.commission",
        "retailer.float_deposit",
        "store.withdraw",
    } <= actions


def test_bad_retail_administration_names_the_field_and_changes_nothing(
    client: TestClient, demo_db: Database
) -> None:
    admin = login(client, *ADMIN)
    cases = [
        ("/api/v1/admin/retailers", {"code": "x", "name": "X"}, "code"),
        ("/api/v1/admin/retailers", {"code": "RTL", "name": "Again"}, "already exists"),
        (
            "/api/v1/admin/retailers",
            {"code": "NEWR", "name": "N", "commission_basis_points": 9000},
            "basis points",
        ),
        (
            "/api/v1/admin/retailers/RTL/stores",
            {"code": "RTL-0009", "name": "S", "city": "J", "latitude": 1.0},
            "longitude",
        ),
        (
            "/api/v1/admin/retailers/RTL/stores",
            {"code": "RTL-0009", "name": "S", "city": "J", "opens_at": "8am"},
            "opens_at",
        ),
        (
            "/api/v1/admin/retailers/RTL/stores",
            {"code": "RTL-0009", "name": "S", "city": "J", "open_days": "189"},
            "open_days",
        ),
        (
            "/api/v1/admin/retailers/RTL/stores",
            {"code": "RTL-0009", "name": "S", "city": "J", "printer": "lpt1"},
            "printer",
        ),
        (
            "/api/v1/admin/retailers/NOPE/stores",
            {"code": "RTL-0009", "name": "S", "city": "J"},
            "no retailer",
        ),
        (
            "/api/v1/admin/retailers/RTL/people",
            {"username": "abc", "password": "long-pass-1", "role": "retail_staff"},
            "store_code",
        ),
        (
            "/api/v1/admin/retailers/RTL/people",
            {
                "username": "abc",
                "password": "long-pass-1",
                "role": "retail_staff",
                "store_code": "RTL-0101",
            },
            "no store",
        ),
        (
            "/api/v1/admin/retailers/RTL/people",
            {"username": "abc", "password": "long-pass-1", "role": "admin"},
            "role",
        ),
    ]
    with demo_db.unit_of_work(write=False) as session:
        before = (
            session.execute(select(func.count()).select_from(Retailer)).scalar_one(),
            session.execute(select(func.count()).select_from(Store)).scalar_one(),
        )
    for path, body, said in cases:
        answer = client.post(path, json=body, headers=admin)
        assert answer.status_code in (404, 409, 422), (path, body, answer.text)
        assert said in answer.text, (said, answer.text)
    with demo_db.unit_of_work(write=False) as session:
        after = (
            session.execute(select(func.count()).select_from(Retailer)).scalar_one(),
            session.execute(select(func.count()).select_from(Store)).scalar_one(),
        )
    assert after == before
    staff = login(client, "toko-melati", "demo-retail-1")
    assert (
        client.post(
            "/api/v1/admin/retailers", json={"code": "HACK", "name": "H"}, headers=staff
        ).status_code
        == 403
    )
