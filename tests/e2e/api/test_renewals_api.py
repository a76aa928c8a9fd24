"""The JSON API as the mobile app uses it."""

from __future__ import annotations

import uuid

from fastapi.testclient import TestClient

from kuota.api.app import create_app
from kuota.core.config import Mode, Settings
from kuota.core.db import Database
from kuota.notify.senders import LocalMailbox
from kuota.notify.worker import deliver_due

from http_helpers import login

USER1 = ("demo@kuota.example", "demo-user-1")
USER2 = ("demo2@kuota.example", "demo-user-2")
ADMIN = ("admin", "demo-admin-1")
CARD1 = "+6281100000001"


def renew(
    client: TestClient, headers: dict[str, str], key: str | None = None, **body: object
) -> tuple[int, dict[str, object], dict[str, str]]:
    payload = {"msisdn": CARD1, "plan_code": "DATA-1GB-7D", "payment_method": "balance", **body}
    hdrs = dict(headers)
    if key is not None:
        hdrs["Idempotency-Key"] = key
    answer = client.post("/api/v1/renewals", json=payload, headers=hdrs)
    return answer.status_code, answer.json(), dict(answer.headers)


def card_balance(client: TestClient, headers: dict[str, str], msisdn: str = CARD1) -> int:
    return int(client.get(f"/api/v1/cards/{msisdn}", headers=headers).json()["balance"]["amount"])


def test_plans_catalogue_is_public(client: TestClient) -> None:
    plans = client.get("/api/v1/plans").json()
    assert [
        (p["code"], p["price"]["amount"], p["data_bytes"], p["validity_days"]) for p in plans
    ] == [
        ("DATA-1GB-7D", 1_500_000, 10**9, 7),
        ("DATA-5GB-30D", 5_000_000, 5 * 10**9, 30),
        ("DATA-20GB-30D", 12_000_000, 20 * 10**9, 30),
    ]


def test_login_and_card_view(client: TestClient) -> None:
    headers = login(client, *USER1)
    card = client.get(f"/api/v1/cards/{CARD1}", headers=headers).json()
    assert card["balance"] == {"amount": 20_000_000, "currency": "IDR"}
    assert card["auto_renew"] is False and card["packages"] == []
    mine = client.get("/api/v1/cards", headers=headers).json()
    assert [c["msisdn"] for c in mine] == ["+6281100000001", "+6281100000002"]


def test_wrong_password_is_401_problem(client: TestClient) -> None:
    answer = client.post("/api/v1/auth/token", json={"username": USER1[0], "password": "wrong-one"})
    assert answer.status_code == 401
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "wrong username or password"


def test_renewal_then_replay_returns_first_answer_and_debits_once(client: TestClient) -> None:
    headers = login(client, *USER1)
    key = str(uuid.uuid4())
    status, first, _ = renew(client, headers, key)
    assert status == 201 and first["status"] == "fulfilled"
    status2, second, hdrs = renew(client, headers, key)
    assert status2 == 201 and second == first
    assert hdrs.get("idempotent-replayed") == "true"
    assert card_balance(client, headers) == 20_000_000 - 1_500_000
    again = client.get(f"/api/v1/renewals/{first['id']}", headers=headers).json()
    assert again["receipt_no"] == first["receipt_no"]
    history = client.get(f"/api/v1/cards/{CARD1}/renewals", headers=headers).json()
    assert [h["id"] for h in history] == [first["id"]]


def test_same_key_with_a_different_body_is_refused(client: TestClient) -> None:
    headers = login(client, *USER1)
    renew(client, headers, "k-1")
    status, body, _ = renew(client, headers, "k-1", plan_code="DATA-5GB-30D")
    assert status == 422 and "different request" in str(body["detail"])
    assert card_balance(client, headers) == 20_000_000 - 1_500_000


def test_refusal_is_replayed_too(client: TestClient) -> None:
    headers = login(client, *USER1)
    status, body, _ = renew(client, headers, "k-short", msisdn="+6281100000002")
    assert status == 402 and "Rp 0" in str(body["detail"])
    status2, body2, hdrs = renew(client, headers, "k-short", msisdn="+6281100000002")
    assert (status2, body2) == (status, body) and hdrs.get("idempotent-replayed") == "true"


def test_missing_idempotency_key_is_400(client: TestClient) -> None:
    headers = login(client, *USER1)
    status, body, _ = renew(client, headers, None)
    assert status == 400 and "Idempotency-Key" in str(body["detail"])
    assert card_balance(client, headers) == 20_000_000


def test_bad_bodies_name_the_field(client: TestClient) -> None:
    headers = login(client, *USER1)
    cases = [
        ({"payment_method": "bitcoin"}, "payment_method"),
        ({"plan_code": ""}, "plan_code"),
        ({"msisdn": "not-a-number"}, "msisdn"),
        ({"plan_code": "NOPE"}, "plan_code"),
        ({"promo_code": "NOPE"}, "promo_code"),
        ({"extra": 1}, "extra"),
    ]
    for index, (over, field) in enumerate(cases):
        status, body, _ = renew(client, headers, f"bad-{index}", **over)
        assert status == 422, (over, body)
        assert field in str(body), (over, body)
    answer = client.post(
        "/api/v1/renewals",
        content=b"{not json",
        headers={**headers, "Idempotency-Key": "raw", "content-type": "application/json"},
    )
    assert answer.status_code == 422
    assert card_balance(client, headers) == 20_000_000


def test_another_subscribers_card_is_404_on_every_endpoint(client: TestClient) -> None:
    intruder = login(client, *USER2)
    owner = login(client, *USER1)
    _, renewal, _ = renew(client, owner, "own")
    probes = [
        client.get(f"/api/v1/cards/{CARD1}", headers=intruder),
        client.get(f"/api/v1/cards/{CARD1}/renewals", headers=intruder),
        client.get(f"/api/v1/renewals/{renewal['id']}", headers=intruder),
        client.post(
            "/api/v1/renewals",
            headers={**intruder, "Idempotency-Key": "steal"},
            json={"msisdn": CARD1, "plan_code": "DATA-1GB-7D", "payment_method": "balance"},
        ),
        client.post(
            f"/api/v1/admin/cards/{CARD1}/balance-adjustments",
            headers={**intruder, "Idempotency-Key": "adj"},
            json={"amount": {"amount": 100, "currency": "IDR"}, "reason": "x"},
        ),
    ]
    assert [p.status_code for p in probes] == [404, 404, 404, 404, 403]
    assert card_balance(client, owner) == 20_000_000 - 1_500_000


def test_store_and_kiosk_see_the_card_masked(client: TestClient) -> None:
    staff = login(client, "toko-melati", "demo-retail-1")
    for headers in (staff, {"X-Kiosk-Key": "demo-kiosk-key-1"}):
        card = client.get(f"/api/v1/cards/{CARD1}", headers=headers).json()
        assert card == {"msisdn": CARD1, "owner_name_masked": "S*** R*****", "packages": []}
    assert client.get(f"/api/v1/cards/{CARD1}", headers={"X-Kiosk-Key": "wrong"}).status_code == 401


def test_admin_balance_adjustment_is_idempotent_and_audited(client: TestClient) -> None:
    admin = login(client, *ADMIN)
    url = "/api/v1/admin/cards/+6281100000002/balance-adjustments"
    body = {"amount": {"amount": 2_500_000, "currency": "IDR"}, "reason": "goodwill"}
    first = client.post(url, json=body, headers={**admin, "Idempotency-Key": "adj-1"})
    second = client.post(url, json=body, headers={**admin, "Idempotency-Key": "adj-1"})
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert first.json()["balance"] == {"amount": 2_500_000, "currency": "IDR"}
    debit = client.post(
        url,
        json={"amount": {"amount": -3_000_000, "currency": "IDR"}, "reason": "too much"},
        headers={**admin, "Idempotency-Key": "adj-2"},
    )
    assert debit.status_code == 402 and "below zero" in debit.json()["detail"]
    bad = client.post(
        url,
        json={"amount": {"amount": 150, "currency": "IDR"}, "reason": "x"},
        headers={**admin, "Idempotency-Key": "adj-3"},
    )
    assert bad.status_code == 422 and "whole rupiah" in bad.json()["detail"]
    user = login(client, *USER1)
    assert card_balance(client, user, "+6281100000002") == 2_500_000


def test_test_clock_and_mailbox(client: TestClient) -> None:
    admin = login(client, *ADMIN)
    moved = client.post(
        "/api/v1/test/clock", json={"now": "2027-01-01T00:00:00Z"}, headers=admin
    ).json()
    assert moved["now"].startswith("2027-01-01T00:00")
    user = login(client, *USER1)
    _, renewal, _ = renew(client, user, "later")
    assert str(renewal["created_at"]).startswith("2027-01-01")
    assert (
        client.post("/api/v1/test/clock", json={"reset": True}, headers=admin).json()[
            "offset_seconds"
        ]
        == 0
    )
    assert client.post("/api/v1/test/clock", json={}, headers=admin).status_code == 422
    assert client.post("/api/v1/test/clock", json={"reset": True}, headers=user).status_code == 403
    assert client.get("/api/v1/test/messages", params={"to": CARD1}).json() == []


def test_openapi_and_health(client: TestClient) -> None:
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/renewals" in spec["paths"]
    assert client.get("/healthz").status_code == 200


def test_a_refused_first_renewal_leaves_the_process_able_to_sell(client: TestClient) -> None:
    """The first sale creates the revenue account; when it is refused and rolled back,
    no remembered id of that vanished account may break the sales after it."""
    headers = login(client, *USER1)
    status, _, _ = renew(client, headers, "first-refused", msisdn="+6281100000002")
    assert status == 402
    status, body, _ = renew(client, headers, "then-paid")
    assert status == 201 and body["status"] == "fulfilled", body
    assert card_balance(client, headers) == 20_000_000 - 1_500_000


def test_bad_money_is_named_and_changes_nothing(client: TestClient) -> None:
    admin = login(client, *ADMIN)
    url = "/api/v1/admin/cards/+6281100000002/balance-adjustments"
    cases = [
        ({"amount": 2_500_000.0, "currency": "IDR"}, "amount"),
        ({"amount": "2500000", "currency": "IDR"}, "amount"),
        ({"amount": True, "currency": "IDR"}, "amount"),
        ({"amount": 2_500_000, "currency": "XYZ"}, "currency"),
        ({"amount": 2_500_000, "currency": "RP"}, "currency"),
        ({"amount": 2_500_000, "currency": "USD"}, "IDR"),
        ({"amount": 2_500_000}, "currency"),
    ]
    for index, (money, named) in enumerate(cases):
        answer = client.post(
            url,
            json={"amount": money, "reason": "test"},
            headers={**admin, "Idempotency-Key": f"money-{index}"},
        )
        assert answer.status_code == 422, (money, answer.text)
        assert answer.headers["content-type"] == "application/problem+json"
        assert named in answer.text, (money, answer.text)
    user = login(client, *USER1)
    assert card_balance(client, user, "+6281100000002") == 0


def test_mailbox_finds_a_number_whose_plus_was_not_escaped(
    client: TestClient, demo_db: Database
) -> None:
    headers = login(client, *USER1)
    renew(client, headers, "mail")
    mailbox = LocalMailbox(demo_db)
    assert deliver_due(demo_db, {"sms": mailbox, "email": mailbox}, max_attempts=3).sent == 2
    by_escaped = client.get("/api/v1/test/messages", params={"to": CARD1}).json()
    by_raw = client.get(f"/api/v1/test/messages?to={CARD1}").json()
    assert len(by_escaped) == 1 and by_escaped[0]["channel"] == "sms"
    assert by_raw == by_escaped


def test_production_mode_has_no_test_endpoints(demo_db: Database, settings: Settings) -> None:
    production = create_app(settings.model_copy(update={"mode": Mode.PRODUCTION}), db=demo_db)
    with TestClient(production, raise_server_exceptions=False) as client:
        admin = login(client, *ADMIN)
        assert (
            client.post("/api/v1/test/clock", json={"reset": True}, headers=admin).status_code
            == 404
        )
        assert client.get("/api/v1/test/messages", params={"to": CARD1}).status_code == 404
        paths = client.get("/api/v1/openapi.json").json()["paths"]
        assert not [p for p in paths if p.startswith("/api/v1/test")]
        assert "/api/v1/renewals" in paths
