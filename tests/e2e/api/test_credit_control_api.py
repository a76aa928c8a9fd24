"""The credit-control API as a packet gateway uses it (RFC 8506 semantics over JSON)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from kuota.api.app import create_app, served
from kuota.cards.models import Card
from kuota.core.clock import FixedClock
from kuota.core.config import Settings
from kuota.core.db import Database
from kuota.usage import network
from kuota.usage import service as usage

from http_helpers import login

CARD = "+6281100000001"
KEY = {"X-Network-Key": "demo-network-key-1"}
MB = 10**6


@pytest.fixture
def gy(demo_db: Database, settings: Settings, clock: FixedClock) -> Iterator[TestClient]:
    with demo_db.unit_of_work() as s:
        card_id = s.execute(select(Card.id).where(Card.msisdn == CARD)).scalar_one()
        usage.add_purchase(
            s,
            card_id=card_id,
            plan_code="DATA-1GB-7D",
            plan_version_id=1,
            data_bytes=150 * MB,
            validity_days=7,
            now=clock.now(),
        )
    # As a server runs it: the credit-control lane ahead of the framework.
    app = served(create_app(settings, db=demo_db, clock=clock))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def ask(client: TestClient, **body: Any) -> tuple[int, dict[str, Any]]:
    payload = {"session_id": "s1", "msisdn": CARD, "request_type": "initial", "request_number": 0}
    payload.update(body)
    answer = client.post("/api/v1/credit-control", json=payload, headers=KEY)
    return answer.status_code, answer.json()


def test_slices_are_granted_reserved_charged_and_end_with_a_redirect(gy: TestClient) -> None:
    status, first = ask(gy)
    assert status == 200
    assert first == {"result_code": 2001, "granted_bytes": 100 * MB, "validity_time": 3600}
    user = login(gy, "demo@kuota.example", "demo-user-1")
    [package] = gy.get(f"/api/v1/cards/{CARD}", headers=user).json()["packages"]
    assert package["quota_reserved_bytes"] == 100 * MB
    assert package["quota_remaining_bytes"] == 150 * MB
    status, second = ask(gy, request_type="update", request_number=1, used_bytes=100 * MB)
    assert second["result_code"] == 2001 and second["granted_bytes"] == 50 * MB
    assert second["final_unit"]["action"] == "redirect"
    assert second["final_unit"]["redirect_url"].startswith("http://kuota.test/renew?msisdn=")
    status, third = ask(gy, request_type="update", request_number=2, used_bytes=50 * MB)
    assert third["result_code"] == 4012 and third["granted_bytes"] == 0
    status, done = ask(gy, request_type="terminate", request_number=3, used_bytes=0)
    assert done == {"result_code": 2001, "granted_bytes": 0, "validity_time": 0}
    [package] = gy.get(f"/api/v1/cards/{CARD}", headers=user).json()["packages"]
    assert package["quota_remaining_bytes"] == 0 and package["quota_reserved_bytes"] == 0


def test_a_repeated_request_gets_the_first_answer_and_charges_once(gy: TestClient) -> None:
    ask(gy)
    first = ask(gy, request_type="update", request_number=1, used_bytes=30 * MB)
    again = ask(gy, request_type="update", request_number=1, used_bytes=30 * MB)
    assert first == again
    user = login(gy, "demo@kuota.example", "demo-user-1")
    [package] = gy.get(f"/api/v1/cards/{CARD}", headers=user).json()["packages"]
    assert package["quota_remaining_bytes"] == 120 * MB


def test_two_sessions_of_one_card_cannot_overspend(gy: TestClient) -> None:
    assert ask(gy, session_id="a")[1]["granted_bytes"] == 100 * MB
    second = ask(gy, session_id="b")[1]
    assert second["granted_bytes"] == 50 * MB and "final_unit" in second
    third = ask(gy, session_id="c")[1]
    assert third["result_code"] == 4012 and third["granted_bytes"] == 0
    ask(gy, session_id="a", request_type="terminate", request_number=1, used_bytes=10 * MB)
    fourth = ask(gy, session_id="d")[1]
    assert fourth["granted_bytes"] == 90 * MB


def test_an_unknown_subscriber_is_5030(gy: TestClient) -> None:
    status, answer = ask(gy, msisdn="+6289999999999")
    assert status == 200 and answer["result_code"] == 5030


def test_network_key_is_required(gy: TestClient) -> None:
    body = {"session_id": "s", "msisdn": CARD, "request_type": "initial", "request_number": 0}
    assert gy.post("/api/v1/credit-control", json=body).status_code == 401
    wrong = gy.post("/api/v1/credit-control", json=body, headers={"X-Network-Key": "nope"})
    assert wrong.status_code == 401 and "unknown" in wrong.json()["detail"]


def test_bad_requests_are_named_and_change_nothing(gy: TestClient) -> None:
    cases = [
        ({"request_type": "begin"}, "request_type"),
        ({"used_bytes": -1}, "used_bytes"),
        ({"used_bytes": 1.5}, "used_bytes"),
        ({"request_number": "1"}, "request_number"),
        ({"request_number": 2**31}, "request_number"),  # past what is kept: not a 500
        ({"used_bytes": 10**13 + 1}, "used_bytes"),
        ({"requested_bytes": 2**64}, "requested_bytes"),
        ({"session_id": ""}, "session_id"),
        ({"request_type": "update", "session_id": "never-opened"}, "session_id"),
    ]
    for over, field in cases:
        status, body = ask(gy, **over)
        assert status == 422, (over, body)
        assert field in str(body), (over, body)
    ask(gy, session_id="s9")
    ask(gy, session_id="s9", request_type="update", request_number=5, used_bytes=0)
    status, body = ask(gy, session_id="s9", request_type="update", request_number=3)
    assert status == 422 and "request_number" in str(body)


def test_a_silent_session_releases_its_reservation_after_validity(
    gy: TestClient, demo_db: Database, clock: FixedClock
) -> None:
    ask(gy, session_id="gone")
    clock.advance(timedelta(hours=2))
    with demo_db.unit_of_work() as s:
        assert network.release_expired_reservations(s, clock.now()) == 1
    assert ask(gy, session_id="new")[1]["granted_bytes"] == 100 * MB


def test_usage_per_day_is_shown_to_the_owner_only(gy: TestClient, clock: FixedClock) -> None:
    ask(gy)
    ask(gy, request_type="update", request_number=1, used_bytes=40 * MB)
    clock.advance(timedelta(days=1))
    ask(gy, request_type="terminate", request_number=2, used_bytes=10 * MB)
    user = login(gy, "demo@kuota.example", "demo-user-1")
    days = gy.get(f"/api/v1/cards/{CARD}/usage", headers=user).json()
    assert [(d["plan_code"], d["bytes"]) for d in days] == [
        ("DATA-1GB-7D", 40 * MB),
        ("DATA-1GB-7D", 10 * MB),
    ]
    assert days[0]["day"] < days[1]["day"]
    other = login(gy, "demo2@kuota.example", "demo-user-2")
    assert gy.get(f"/api/v1/cards/{CARD}/usage", headers=other).status_code == 404
    assert gy.get(f"/api/v1/cards/{CARD}/usage?days=0", headers=user).status_code == 422


def test_a_late_report_on_a_session_closed_for_silence_is_still_charged(
    gy: TestClient, demo_db: Database, clock: FixedClock
) -> None:
    ask(gy, session_id="slow")
    clock.advance(timedelta(hours=2))
    with demo_db.unit_of_work() as s:
        network.release_expired_reservations(s, clock.now())
    status, late = ask(
        gy, session_id="slow", request_type="terminate", request_number=1, used_bytes=20 * MB
    )
    assert status == 200 and late["result_code"] == 2001
    user = login(gy, "demo@kuota.example", "demo-user-1")
    [package] = gy.get(f"/api/v1/cards/{CARD}", headers=user).json()["packages"]
    assert package["quota_remaining_bytes"] == 130 * MB


def test_the_owner_turns_auto_renewal_on_and_nobody_else_can(gy: TestClient) -> None:
    user = login(gy, "demo@kuota.example", "demo-user-1")
    on = gy.patch(f"/api/v1/cards/{CARD}", json={"auto_renew": True}, headers=user)
    assert on.status_code == 200 and on.json()["auto_renew"] is True
    other = login(gy, "demo2@kuota.example", "demo-user-2")
    assert (
        gy.patch(f"/api/v1/cards/{CARD}", json={"auto_renew": False}, headers=other).status_code
        == 404
    )
    bad = gy.patch(f"/api/v1/cards/{CARD}", json={"auto_renew": "yes"}, headers=user)
    assert bad.status_code == 422 and "auto_renew" in bad.text
    assert gy.get(f"/api/v1/cards/{CARD}", headers=user).json()["auto_renew"] is True


def test_concurrent_requests_share_commits_and_a_bad_key_spoils_none(
    gy: TestClient,
) -> None:
    """Through the app's group commit: twenty sessions at once, each answered for itself,
    with requests carrying a wrong key refused among them."""
    import concurrent.futures

    def ask(index: int) -> int:
        body = {
            "session_id": f"group-{index}",
            "msisdn": "0811-0000-0001" if index % 2 else CARD,
            "request_type": "initial",
            "request_number": 0,
            "requested_bytes": MB,
        }
        key = "wrong-key" if index % 5 == 0 else "demo-network-key-1"
        answer = gy.post("/api/v1/credit-control", json=body, headers={"X-Network-Key": key})
        return answer.status_code if answer.status_code != 200 else answer.json()["result_code"]

    def refused(index: int) -> int:  # never opened: refused, and the rest still commits
        body = {
            "session_id": f"never-{index}",
            "msisdn": CARD,
            "request_type": "update",
            "request_number": 1,
        }
        answer = gy.post(
            "/api/v1/credit-control", json=body, headers={"X-Network-Key": "demo-network-key-1"}
        )
        return answer.status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answered = [pool.submit(ask, index) for index in range(20)]
        refusals = [pool.submit(refused, index) for index in range(6)]
        codes = [future.result() for future in answered]
    assert codes.count(401) == 4
    assert codes.count(2001) == 16
    assert [future.result() for future in refusals] == [422] * 6


def test_a_body_that_is_not_json_is_named_and_changes_nothing(gy: TestClient) -> None:
    headers = {"X-Network-Key": "demo-network-key-1", "Content-Type": "application/json"}
    broken = gy.post("/api/v1/credit-control", content=b'{"session_id": ', headers=headers)
    assert broken.status_code == 422
    assert broken.headers["content-type"] == "application/problem+json"
    assert "JSON" in broken.json()["detail"]
    extra = gy.post(
        "/api/v1/credit-control",
        json={
            "session_id": "x",
            "msisdn": CARD,
            "request_type": "initial",
            "request_number": 0,
            "bonus": 1,
        },
        headers=headers,
    )
    assert extra.status_code == 422 and "bonus" in extra.json()["detail"]


def test_a_removed_gateway_key_is_refused_once_its_cache_runs_out(
    gy: TestClient, demo_db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kuota.api.routers import network as door
    from kuota.usage import elements

    with demo_db.unit_of_work() as s:
        key = elements.add_network_element(s, name="pgw-x", actor="t", now=clock.now()).secret
    body = {"session_id": "rk", "msisdn": CARD, "request_type": "initial", "request_number": 0}

    def status(number: int) -> int:
        answer = gy.post(
            "/api/v1/credit-control",
            json={
                **body,
                "request_number": number,
                "request_type": "update" if number else "initial",
            },
            headers={"X-Network-Key": key},
        )
        return answer.status_code

    assert status(0) == 200
    with demo_db.unit_of_work() as s:
        elements.remove_network_element(s, name="pgw-x", actor="t", now=clock.now())
    assert status(1) == 200  # proven a moment ago: still remembered
    real = door._monotonic
    monkeypatch.setattr(door, "_monotonic", lambda: real() + door._KEY_CACHE_SECONDS + 1)
    assert status(2) == 401


def test_the_app_alone_answers_through_its_own_lane(
    demo_db: Database, settings: Settings, clock: FixedClock
) -> None:
    """`create_app` without `served` (as tests and embedders use it) answers the same."""
    app = create_app(settings, db=demo_db, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        status, answer = ask(client, msisdn="+6281100000999")
        broken = client.post("/api/v1/credit-control", content=b"{", headers=KEY)
    assert (status, answer["result_code"]) == (200, 5030)
    assert broken.status_code == 422


def test_a_body_too_large_is_refused_unread(gy: TestClient) -> None:
    huge = b'{"session_id": "' + b"x" * 20_000 + b'"}'
    answer = gy.post("/api/v1/credit-control", content=huge, headers=KEY)
    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert "16384 bytes" in answer.json()["detail"]


def test_an_unexpected_error_is_a_logged_500_that_changes_nothing(
    gy: TestClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any) -> Any:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(network, "credit_control_many", broken)
    with caplog.at_level("ERROR", logger="kuota.api"):
        status, problem = ask(gy)
    assert status == 500 and "applied nothing" in problem["detail"]
    logged = [r for r in caplog.records if r.message == "unexpected error"]
    assert logged and "disk on fire" in str(logged[0].exc_info)
    monkeypatch.undo()
    status, first = ask(gy)  # nothing was kept of the failed request
    assert status == 200 and first["granted_bytes"] == 100 * MB


def test_a_full_queue_is_a_logged_503(
    demo_db: Database, settings: Settings, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(settings, db=demo_db, clock=clock)
    with TestClient(served(app), raise_server_exceptions=False) as client:
        app.state.credit_control.queue_limit = 0
        with caplog.at_level("ERROR", logger="kuota.api"):
            status, problem = ask(client)
    assert status == 503 and problem["type"].endswith("/overloaded")
    assert "retry in a moment" in problem["detail"]
    assert any(r.message.startswith("server error: the server is busy") for r in caplog.records)
