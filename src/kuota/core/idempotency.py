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
from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

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


def _stored(session: Session, scope: str, key: str, fp: str) -> StoredAnswer | None:
    row = session.execute(
        select(
            IdempotencyRecord.fingerprint,
            IdempotencyRecord.status_code,
            IdempotencyRecord.response_body,
        ).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
    ).one_or_none()
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
    existing = _stored(session, scope, key, fp)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            session.execute(
                insert(IdempotencyRecord).values(
                    scope=scope,
                    key=key,
                    fingerprint=fp,
                    status_code=0,
                    response_body="",
                    created_at=now,
                )
            )
    except IntegrityError:
        # Another request with this key won the race and has committed (the insert waited
        # for it): read committed, so this statement sees its answer.
        winner = _stored(session, scope, key, fp)
        if winner is None:
            raise
        return winner
    try:
        with session.begin_nested():
            result = operation()
        status, body = success_status, orjson.dumps(result, option=JSON_OPTIONS)
    except KuotaError as error:
        if error.status >= 500:
            raise
        status, body = error.status, orjson.dumps(error.problem(), option=JSON_OPTIONS)
    session.execute(
        update(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .values(status_code=status, response_body=body.decode())
    )
    return StoredAnswer(status, body, replayed=False)
