"""The portal's defences, tried over HTTP: forged forms, guessed ids, fixed sessions,
open redirects, forged receipts, password guessing. Each refusal changes nothing."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from kuota.auth.models import OneTimeCode, SignInAttempt, User
from kuota.core.db import Database
from kuota.renewals.models import Renewal
from kuota.web.visitor import SESSION_COOKIE

from http_helpers import login
from portal_helpers import (
    ALICE,
    ALICE_CARD,
    BOB,
    BOB_CARD,
    challenge_of,
    csrf_of,
    deliver_outbox,
    key_of,
    last_code,
    renew,
    sign_in,
)

UNATTACHED = "+6281100000004"  # a demo card on nobody's account


def balance_of(client: TestClient, who: tuple[str, str], msisdn: str) -> int:
    headers = login(client, *who)
    return int(client.get(f"/api/v1/cards/{msisdn}", headers=headers).json()["balance"]["amount"])


def renewals_count(db: Database) -> int:
    with db.unit_of_work(write=False) as session:
        return int(session.execute(select(func.count()).select_from(Renewal)).scalar_one())


def test_a_form_without_or_with_a_wrong_csrf_token_is_403_and_changes_nothing(
    client: TestClient, demo_db: Database
) -> None:
    assert sign_in(client).status_code == 303
    page = client.get(f"/cards/{ALICE_CARD}/renew")
    form = {
        "idempotency_key": key_of(page.text),
        "plan_code": "DATA-1GB-7D",
        "payment_method": "balance",
    }
    before = balance_of(client, ALICE, ALICE_CARD)
    missing = client.post(f"/cards/{ALICE_CARD}/renew", data=form)
    wrong = client.post(f"/cards/{ALICE_CARD}/renew", data={**form, "csrf_token": "0" * 40})
    assert missing.status_code == wrong.status_code == 403
    assert 'data-error="csrf-rejected"' in wrong.text
    switch = client.post(
        f"/cards/{ALICE_CARD}/auto-renew", data={"auto_renew": "on", "csrf_token": "x"}
    )
    assert switch.status_code == 403
    assert balance_of(client, ALICE, ALICE_CARD) == before
    assert renewals_count(demo_db) == 0
    card = client.get(f"/api/v1/cards/{ALICE_CARD}", headers=login(client, *ALICE)).json()
    assert card["auto_renew"] is False


def test_the_token_of_the_signed_out_page_is_worthless_after_signing_in(
    client: TestClient,
) -> None:
    anonymous_token = csrf_of(client.get("/login").text)
    assert sign_in(client).status_code == 303
    answer = client.post("/logout", data={"csrf_token": anonymous_token}, follow_redirects=False)
    assert answer.status_code == 403
    assert client.get("/cards", follow_redirects=False).status_code == 200


def test_another_subscribers_card_sale_receipt_and_history_are_404(
    client: TestClient,
) -> None:
    assert sign_in(client, BOB).status_code == 303
    bob_sale = renew(client, BOB_CARD)
    assert bob_sale.status_code == 303
    renewal_page = bob_sale.headers["location"]
    receipt_no = re.search(r'class="receipt-no">([^<]+)<', client.get(renewal_page).text)
    assert receipt_no
    client.cookies.clear()
    assert sign_in(client, ALICE).status_code == 303
    for path in (
        f"/cards/{BOB_CARD}",
        f"/cards/{BOB_CARD}/renew",
        f"/cards/{BOB_CARD}/top-up",
        renewal_page,
        f"{renewal_page}/status",
        f"/receipts/{receipt_no.group(1)}.pdf",
    ):
        assert client.get(path).status_code == 404, path
    history = client.get("/history", params={"card": BOB_CARD})
    assert history.status_code == 200
    assert BOB_CARD not in history.text.split("<table")[-1]
    csv_rows = client.get("/history.csv", params={"card": BOB_CARD}).text.strip().splitlines()
    assert len(csv_rows) == 1  # the header only
    page = client.get(f"/cards/{ALICE_CARD}/renew")
    attempt = client.post(
        f"/cards/{BOB_CARD}/renew",
        data={
            "csrf_token": csrf_of(page.text),
            "idempotency_key": key_of(page.text),
            "plan_code": "DATA-1GB-7D",
            "payment_method": "balance",
        },
    )
    assert attempt.status_code == 404
    assert balance_of(client, BOB, BOB_CARD) == 5_000_000 - 1_500_000


def test_signing_in_issues_a_new_session_and_signing_out_ends_it(client: TestClient) -> None:
    client.get("/login")
    planted = client.cookies.get(SESSION_COOKIE)
    assert planted and planted.startswith("a.")
    assert sign_in(client).status_code == 303
    signed_in = client.cookies.get(SESSION_COOKIE)
    assert signed_in and signed_in.startswith("s.") and signed_in != planted
    assert planted.split(".")[1] not in signed_in
    # The cookie an attacker planted before sign-in opens nothing.
    attacker = TestClient(client.app)
    attacker.cookies.set(SESSION_COOKIE, planted)
    assert attacker.get("/cards", follow_redirects=False).status_code == 303
    # A session id with a forged signature is discarded.
    kind, session_id, _ = signed_in.split(".")
    attacker.cookies.set(SESSION_COOKIE, f"{kind}.{session_id}.{'0' * 32}")
    assert attacker.get("/cards", follow_redirects=False).status_code == 303
    # Signing out ends the session on the server, not only in this browser.
    token = csrf_of(client.get("/cards").text)
    assert client.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code
    attacker.cookies.set(SESSION_COOKIE, signed_in)
    assert attacker.get("/cards", follow_redirects=False).headers["location"].startswith("/login")


def test_login_never_redirects_off_site(client: TestClient) -> None:
    for target in (
        "//evil.example/cards",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
    ):
        client.cookies.clear()
        answer = sign_in(client, next_page=target)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/cards", target
    client.cookies.clear()
    assert sign_in(client, next_page="/history").headers["location"] == "/history"


def test_the_verifier_refuses_forged_codes(client: TestClient) -> None:
    assert sign_in(client).status_code == 303
    page = client.get(renew(client).headers["location"]).text
    link = re.search(r'href="http://kuota.test(/verify/[^"]+)"', page)
    assert link
    genuine = client.get(link.group(1).replace("&amp;", "&"))
    assert genuine.status_code == 200 and 'data-verdict="genuine"' in genuine.text
    assert ALICE_CARD not in genuine.text and "Siti" not in genuine.text
    receipt_no = link.group(1).split("/")[2].split("?")[0]
    for code in ("", "AAAAAAAA", "00000000", "' OR 1=1 --"):
        forged = client.get(f"/verify/{receipt_no}", params={"c": code})
        assert forged.status_code == 404
        assert 'data-verdict="not-genuine"' in forged.text
    assert client.get("/verify/KU-2611-NOSUCHONE0", params={"c": "ABCDEFGH"}).status_code == 404


def test_five_wrong_passwords_lock_the_account_and_every_attempt_is_recorded(
    client: TestClient, demo_db: Database
) -> None:
    for _ in range(5):
        assert sign_in(client, (ALICE[0], "not-the-password")).status_code == 401
    locked = sign_in(client, ALICE)
    assert locked.status_code == 429
    assert 'data-error="too-many-attempts"' in locked.text
    with demo_db.unit_of_work(write=False) as session:
        rows = session.execute(
            select(SignInAttempt.succeeded, SignInAttempt.reason).where(
                SignInAttempt.subject == ALICE[0]
            )
        ).all()
    assert len(rows) == 6 and not any(ok for ok, _ in rows)
    assert [reason for _, reason in rows].count("wrong_credentials") == 5
    # The lock is per account: another subscriber signs in.
    client.cookies.clear()
    assert sign_in(client, BOB).status_code == 303


def test_a_one_time_code_allows_five_tries_then_is_spent(
    client: TestClient, demo_db: Database
) -> None:
    page = client.get("/login/code")
    asked = client.post(
        "/login/code", data={"csrf_token": csrf_of(page.text), "msisdn": "0811-0000-0001"}
    )
    assert asked.status_code == 200
    challenge = challenge_of(asked.text)
    right = last_code(client, ALICE_CARD)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    token = csrf_of(asked.text)
    statuses = []
    for _ in range(5):
        answer = client.post(
            "/login/code",
            data={"csrf_token": token, "challenge": challenge, "code": wrong},
            follow_redirects=False,
        )
        statuses.append(answer.status_code)
    assert statuses == [422, 422, 422, 422, 429]
    late = client.post(
        "/login/code",
        data={"csrf_token": token, "challenge": challenge, "code": right},
        follow_redirects=False,
    )
    assert late.status_code == 429
    assert client.get("/cards", follow_redirects=False).status_code == 303


def test_an_expired_code_is_refused(client: TestClient, demo_db: Database) -> None:
    page = client.get("/login/code")
    asked = client.post(
        "/login/code", data={"csrf_token": csrf_of(page.text), "msisdn": ALICE_CARD}
    )
    challenge = challenge_of(asked.text)
    with demo_db.unit_of_work() as session:
        session.execute(
            update(OneTimeCode)
            .where(OneTimeCode.id == challenge)
            .values(expires_at=OneTimeCode.created_at)
        )
    answer = client.post(
        "/login/code",
        data={
            "csrf_token": csrf_of(asked.text),
            "challenge": challenge,
            "code": last_code(client, ALICE_CARD),
        },
        follow_redirects=False,
    )
    assert answer.status_code == 422 and "expired" in answer.text


def test_a_number_without_an_account_gets_the_same_answer_and_no_sms(client: TestClient) -> None:
    page = client.get("/login/code")
    answer = client.post(
        "/login/code", data={"csrf_token": csrf_of(page.text), "msisdn": UNATTACHED}
    )
    assert answer.status_code == 200 and 'name="challenge"' in answer.text
    deliver_outbox(client)
    assert client.get("/api/v1/test/messages", params={"to": UNATTACHED}).json() == []


def test_bad_registration_names_the_problem_and_creates_nothing(
    client: TestClient, demo_db: Database
) -> None:
    token = csrf_of(client.get("/register").text)
    cases = [
        ({"email": "not-an-address", "password": "long-enough-1"}, "not an e-mail address"),
        ({"email": "new@kuota.example", "password": "short"}, "at least 8 characters"),
        ({"email": ALICE[0], "password": "long-enough-1"}, "already has an account"),
    ]
    for fields, said in cases:
        answer = client.post(
            "/register",
            data={
                "csrf_token": token,
                "display_name": "Budi",
                "password_again": fields["password"],
                **fields,
            },
        )
        assert answer.status_code in (409, 422), answer.text
        assert said in answer.text
    mismatch = client.post(
        "/register",
        data={
            "csrf_token": token,
            "display_name": "Budi",
            "email": "new@kuota.example",
            "password": "long-enough-1",
            "password_again": "long-enough-2",
        },
    )
    assert mismatch.status_code == 422
    with demo_db.unit_of_work(write=False) as session:
        assert (
            session.execute(select(User.id).where(User.username == "new@kuota.example")).first()
            is None
        )


def test_a_bad_top_up_amount_is_named_and_changes_nothing(client: TestClient) -> None:
    assert sign_in(client).status_code == 303
    page = client.get(f"/cards/{ALICE_CARD}/top-up")
    before = balance_of(client, ALICE, ALICE_CARD)
    for amount in ("abc", "-5000", "1", "99999999999"):
        answer = client.post(
            f"/cards/{ALICE_CARD}/top-up",
            data={
                "csrf_token": csrf_of(page.text),
                "idempotency_key": f"k-{amount}",
                "amount": amount,
                "payment_method": "qris",
            },
        )
        assert answer.status_code == 422, (amount, answer.text)
        assert 'data-error="invalid-input"' in answer.text
    assert balance_of(client, ALICE, ALICE_CARD) == before
