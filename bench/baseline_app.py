"""The baseline: the same rows as a kuota renewal, written by a minimal ASGI app.

Same web server (uvicorn), same database and durability settings, plain SQL
through the driver, no validation, no ORM, no authentication. Run with
`uvicorn --factory bench.baseline_app:create` and BASELINE_DATABASE_URL set.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

SQL = {
    "idem": "INSERT INTO idempotency_records (scope, key, fingerprint, status_code, "
    "response_body, created_at) VALUES ({p}, {p}, {p}, 0, '', {p})",
    "card": "SELECT c.id, a.id FROM cards c JOIN ledger_accounts a ON a.card_id = c.id "
    "WHERE c.msisdn = {p}",
    "plan": "SELECT id, price_amount, data_bytes, validity_days FROM plan_versions "
    "WHERE code = {p} AND is_current",
    "debit": "UPDATE ledger_accounts SET balance = balance - {p} WHERE id = {p} AND balance >= {p}",
    "entry": "INSERT INTO journal_entries (kind, reference, memo, created_at) "
    "VALUES ('renewal', {p}, 'renewal', {p}) RETURNING id",
    "line": "INSERT INTO journal_lines (entry_id, account_id, amount, currency) "
    "VALUES ({p}, {p}, {p}, 'IDR')",
    "payment": "INSERT INTO payments (id, card_id, method, provider, status, amount, currency, "
    "created_at, updated_at) VALUES ({p}, {p}, 'balance', 'balance', 'succeeded', "
    "{p}, 'IDR', {p}, {p})",
    "package": "SELECT id, expires_at FROM packages WHERE card_id = {p} AND plan_code = {p} "
    "AND expires_at > {p}",
    "extend": "UPDATE packages SET quota_total_bytes = quota_total_bytes + {p}, "
    "expires_at = {p} WHERE id = {p}",
    "new_package": "INSERT INTO packages (card_id, plan_code, plan_version_id, "
    "quota_total_bytes, quota_used_bytes, quota_reserved_bytes, starts_at, "
    "expires_at, created_at) VALUES ({p}, {p}, {p}, {p}, 0, 0, {p}, {p}, {p}) "
    "RETURNING id",
    "renewal": "INSERT INTO renewals (id, card_id, plan_version_id, channel, payment_method, "
    "payment_id, list_price, discount, total, currency, bonus_bytes, status, "
    "receipt_no, package_id, actor, created_at, fulfilled_at) VALUES ({p}, {p}, {p}, "
    "'online', 'balance', {p}, {p}, 0, {p}, 'IDR', 0, 'fulfilled', {p}, {p}, "
    "'baseline', {p}, {p})",
    "outbox": "INSERT INTO outbox_messages (channel, recipient, subject, body, status, "
    "attempts, next_attempt_at, created_at) VALUES ({p}, {p}, 'ok', 'ok', "
    "'pending', 0, {p}, {p})",
    "answer": "UPDATE idempotency_records SET status_code = 201, response_body = {p} "
    "WHERE scope = {p} AND key = {p}",
}


# The credit-control writes of one Gy update, in plain SQL: claim the answer, release
# the session's reservation, charge what was used, reserve the next slice, store the answer.
CC_SQL = {
    "claim": "INSERT INTO credit_control_answers (session_id, request_number, answer, "
    "created_at) VALUES ({p}, {p}, '', {p})",
    "card": "SELECT id FROM cards WHERE msisdn = {p}",
    "session": "SELECT id FROM usage_sessions WHERE id = {p}",
    "open": "INSERT INTO usage_sessions (id, card_id, source, reported_bytes, charged_bytes, "
    "last_request_number, status, started_at, updated_at) VALUES ({p}, {p}, 'gy', 0, 0, 0, "
    "'open', {p}, {p})",
    "held": "SELECT package_id, bytes FROM quota_reservations WHERE session_id = {p}",
    "unreserve": "UPDATE packages SET quota_reserved_bytes = quota_reserved_bytes - {p} "
    "WHERE id = {p}",
    "drop": "DELETE FROM quota_reservations WHERE session_id = {p}",
    "package": "SELECT id FROM packages WHERE card_id = {p} AND expires_at > {p} "
    "ORDER BY expires_at LIMIT 1",
    "use": "UPDATE packages SET quota_used_bytes = quota_used_bytes + {p} WHERE id = {p}",
    "record": "INSERT INTO usage_records (card_id, package_id, session_id, source, bytes, "
    "uncharged_bytes, recorded_at) VALUES ({p}, {p}, {p}, 'gy', {p}, 0, {p})",
    "reserve": "UPDATE packages SET quota_reserved_bytes = quota_reserved_bytes + {p} "
    "WHERE id = {p}",
    "hold": "INSERT INTO quota_reservations (session_id, package_id, bytes) VALUES ({p}, {p}, {p})",
    "touch": "UPDATE usage_sessions SET last_request_number = {p}, updated_at = {p} WHERE id = {p}",
    "answer": "UPDATE credit_control_answers SET answer = {p} WHERE session_id = {p} "
    "AND request_number = {p}",
}


class Store:
    def __init__(self, url: str) -> None:
        self.sqlite = url.startswith("sqlite")
        self.path = url.split("///", 1)[1] if self.sqlite else None
        self.url = url.replace("postgresql+psycopg://", "postgresql://")
        marker = "?" if self.sqlite else "%s"
        self.sql = {k: v.format(p=marker) for k, v in SQL.items()}
        self.cc_sql = {k: v.format(p=marker) for k, v in CC_SQL.items()}
        self.local = threading.local()
        self.write_lock = threading.Lock()

    def conn(self) -> Any:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            if self.sqlite:
                conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=FULL")
                conn.execute("PRAGMA busy_timeout=30000")
            else:
                import psycopg

                conn = psycopg.connect(self.url, options="-c synchronous_commit=on")
            self.local.conn = conn
        return conn

    def renew(self, key: str, body: dict[str, Any]) -> bytes:
        if self.sqlite:
            with self.write_lock:
                return self._renew(key, body)
        return self._renew(key, body)

    def _renew(self, key: str, body: dict[str, Any]) -> bytes:
        conn = self.conn()
        now = datetime.now(UTC)
        stamp = now.isoformat(sep=" ") if self.sqlite else now
        cur = conn.cursor()
        if self.sqlite:
            cur.execute("BEGIN IMMEDIATE")
        q = self.sql
        try:
            cur.execute(q["idem"], ("baseline", key, "fp", stamp))
            card_id, account_id = cur.execute(q["card"], (body["msisdn"],)).fetchone()
            plan_id, price, data_bytes, days = cur.execute(
                q["plan"], (body["plan_code"],)
            ).fetchone()
            cur.execute(q["debit"], (price, account_id, price))
            entry_id = cur.execute(q["entry"], (key, stamp)).fetchone()[0]
            cur.execute(q["line"], (entry_id, account_id, price))
            cur.execute(q["line"], (entry_id, 1, -price))
            payment_id = "pay_" + secrets.token_hex(10)
            cur.execute(q["payment"], (payment_id, card_id, price, stamp, stamp))
            row = cur.execute(q["package"], (card_id, body["plan_code"], stamp)).fetchone()
            if row:
                expires = row[1] if not self.sqlite else datetime.fromisoformat(row[1])
                new_expiry = expires + timedelta(days=days)
                cur.execute(
                    q["extend"],
                    (
                        data_bytes,
                        new_expiry.isoformat(sep=" ") if self.sqlite else new_expiry,
                        row[0],
                    ),
                )
                package_id = row[0]
            else:
                expiry = now + timedelta(days=days)
                package_id = cur.execute(
                    q["new_package"],
                    (
                        card_id,
                        body["plan_code"],
                        plan_id,
                        data_bytes,
                        stamp,
                        expiry.isoformat(sep=" ") if self.sqlite else expiry,
                        stamp,
                    ),
                ).fetchone()[0]
            renewal_id = "rnw_" + secrets.token_hex(10)
            receipt = "KU-" + secrets.token_hex(6).upper()
            cur.execute(
                q["renewal"],
                (
                    renewal_id,
                    card_id,
                    plan_id,
                    payment_id,
                    price,
                    price,
                    receipt,
                    package_id,
                    stamp,
                    stamp,
                ),
            )
            cur.execute(q["outbox"], ("sms", body["msisdn"], stamp, stamp))
            cur.execute(q["outbox"], ("email", "x@example.com", stamp, stamp))
            answer = json.dumps(
                {"id": renewal_id, "status": "fulfilled", "receipt_no": receipt}
            ).encode()
            cur.execute(q["answer"], (answer.decode(), "baseline", key))
            conn.commit() if not self.sqlite else cur.execute("COMMIT")
            return answer
        except Exception:
            conn.rollback() if not self.sqlite else cur.execute("ROLLBACK")
            raise


def credit_control(store: Store, body: dict[str, Any]) -> bytes:
    if store.sqlite:
        with store.write_lock:
            return _credit_control(store, body)
    return _credit_control(store, body)


def _credit_control(store: Store, body: dict[str, Any]) -> bytes:
    conn = store.conn()
    now = datetime.now(UTC)
    stamp = now.isoformat(sep=" ") if store.sqlite else now
    cur = conn.cursor()
    if store.sqlite:
        cur.execute("BEGIN IMMEDIATE")
    q = store.cc_sql
    key = "gy:" + body["session_id"]
    try:
        cur.execute(q["claim"], (body["session_id"], body["request_number"], stamp))
        card_id = cur.execute(q["card"], (body["msisdn"],)).fetchone()[0]
        if cur.execute(q["session"], (key,)).fetchone() is None:
            cur.execute(q["open"], (key, card_id, stamp, stamp))
        for package_id, held in cur.execute(q["held"], (key,)).fetchall():
            cur.execute(q["unreserve"], (held, package_id))
        cur.execute(q["drop"], (key,))
        package_id = cur.execute(q["package"], (card_id, stamp)).fetchone()[0]
        used = body.get("used_bytes") or 0
        if used:
            cur.execute(q["use"], (used, package_id))
            cur.execute(q["record"], (card_id, package_id, key, used, stamp))
        grant = body.get("requested_bytes") or 100_000_000
        cur.execute(q["reserve"], (grant, package_id))
        cur.execute(q["hold"], (key, package_id, grant))
        cur.execute(q["touch"], (body["request_number"], stamp, key))
        answer = json.dumps({"result_code": 2001, "granted_bytes": grant, "validity_time": 3600})
        cur.execute(q["answer"], (answer, body["session_id"], body["request_number"]))
        conn.commit() if not store.sqlite else cur.execute("COMMIT")
        return answer.encode()
    except Exception:
        conn.rollback() if not store.sqlite else cur.execute("ROLLBACK")
        raise


def create() -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    store = Store(os.environ["BASELINE_DATABASE_URL"])

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        if scope["path"] == "/healthz":
            status, payload = 200, b"ok"
        else:
            headers = dict(scope["headers"])
            key = headers.get(b"idempotency-key", b"").decode()
            body = json.loads(b"".join(chunks))
            if scope["path"] == "/api/v1/credit-control":
                payload = await anyio.to_thread.run_sync(credit_control, store, body)
                status = 200
            else:
                payload = await anyio.to_thread.run_sync(store.renew, key, body)
                status = 201
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    return app
