"""Exactly-once answers for requests that move money or quota.

The record is inserted *before* the work, in the same transaction. A
concurrent request with the same key blocks on that row's unique index (on
PostgreSQL) or on the write lock (on SQLite) until the first commits, and
then replays its answer. Business refusals (4xx) are stored too, inside a
savepoint that undid the work, so a replay gets the same refusal.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from kuota.core.db import insert_for, run
from kuota.core.errors import IdempotencyKeyRequired, IdempotencyKeyReused, InvalidInput, KuotaError
from kuota.core.models import IdempotencyRecord

JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status_code: int
    body: bytes
    replayed: bool


def fingerprint(method: str, path: str, payload: Any) -> str:
    canonical = orjson.dumps([method, path, payload], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def check_key(key: str | None) -> str:
    if key is None or not key.strip():
        raise IdempotencyKeyRequired(
            "send an Idempotency-Key header (a unique value per intended purchase, e.g. a UUID) "
            "so a retry can never charge twice"
        )
    key = key.strip()
    if len(key) > 255 or not key.isprintable():
        raise InvalidInput(
            "the Idempotency-Key is at most 255 printable characters", field="Idempotency-Key"
        )
    return key


_SELECT_STORED = select(
    IdempotencyRecord.fingerprint, IdempotencyRecord.status_code, IdempotencyRecord.response_body
).where(IdempotencyRecord.scope == bindparam("scope"), IdempotencyRecord.key == bindparam("key"))

# Claim the key: one statement that inserts, or does nothing when the key exists. On
# PostgreSQL a concurrent claimer of the same key waits here for the first to commit.
_CLAIM = {
    name: insert_for(name)(IdempotencyRecord)
    .values(
        scope=bindparam("scope"),
        key=bindparam("key"),
        fingerprint=bindparam("fp"),
        status_code=0,
        response_body="",
        created_at=bindparam("now"),
    )
    .on_conflict_do_nothing(index_elements=["scope", "key"])
    .returning(IdempotencyRecord.scope)
    for name in ("sqlite", "postgresql")
}

_STORE_ANSWER = (
    update(IdempotencyRecord)
    .where(
        IdempotencyRecord.scope == bindparam("w_scope"), IdempotencyRecord.key == bindparam("w_key")
    )
    .values(status_code=bindparam("status"), response_body=bindparam("body"))
)


def _stored(session: Session, scope: str, key: str, fp: str) -> StoredAnswer | None:
    row = run(session, _SELECT_STORED, {"scope": scope, "key": key}).one_or_none()
    if row is None:
        return None
    if row.fingerprint != fp:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {key!r} was already used for a different request; "
            "use a new key for a new purchase"
        )
    return StoredAnswer(row.status_code, row.response_body.encode(), replayed=True)


def run_once(
    session: Session,
    *,
    scope: str,
    key: str,
    fp: str,
    now: datetime,
    success_status: int,
    operation: Callable[[], Any],
) -> StoredAnswer:
    """Run `operation` once per (scope, key); later calls get the first answer back."""
    claim = _CLAIM[session.get_bind().dialect.name]
    claimed = run(session, claim, {"scope": scope, "key": key, "fp": fp, "now": now})
    if claimed.first() is None:
        # The key is taken, and its first request has committed (on PostgreSQL the claim
        # waited for it; on SQLite writers take turns): replay its answer.
        winner = _stored(session, scope, key, fp)
        if winner is None:
            raise IdempotencyKeyReused(
                f"Idempotency-Key {key!r} is being used by a request still running; retry"
            )
        return winner
    try:
        with session.begin_nested():
            result = operation()
        status, body = success_status, orjson.dumps(result, option=JSON_OPTIONS)
    except KuotaError as error:
        if error.status >= 500:
            raise
        status, body = error.status, orjson.dumps(error.problem(), option=JSON_OPTIONS)
    run(
        session,
        _STORE_ANSWER,
        {"w_scope": scope, "w_key": key, "status": status, "body": body.decode()},
    )
    return StoredAnswer(status, body, replayed=False)


def replace_answer(session: Session, *, scope: str, key: str, status: int, body: bytes) -> None:
    """Store a later, fuller answer for a key: a gateway checkout's next step is known only
    after the sale committed, and a retry of the same request must see it too."""
    run(
        session,
        _STORE_ANSWER,
        {"w_scope": scope, "w_key": key, "status": status, "body": body.decode()},
    )
