"""Housekeeping forgets what is past its retention and nothing that is still needed."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select

from kuota.auth.models import OneTimeCode, SignInAttempt, WebSession
from kuota.core.clock import FixedClock
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.housekeeping import purge
from kuota.core.models import IdempotencyRecord
from kuota.usage.models import CreditControlAnswer

from factories import make_subscriber


def count(db: Database, model: type) -> int:
    with db.unit_of_work(write=False) as session:
        return int(session.execute(select(func.count()).select_from(model)).scalar_one())


def test_purge_removes_only_what_is_past_its_retention(
    db: Database, ctx: Context, clock: FixedClock
) -> None:
    now = clock.now()
    old, recent = now - timedelta(days=400), now - timedelta(minutes=5)
    with db.unit_of_work() as s:
        user = make_subscriber(s, ctx)
        for at, key in ((old, "old"), (recent, "new")):
            s.execute(
                insert(IdempotencyRecord).values(
                    scope="user:1",
                    key=key,
                    fingerprint="f",
                    status_code=201,
                    response_body="{}",
                    created_at=at,
                )
            )
            s.execute(
                insert(CreditControlAnswer).values(
                    session_id=key, request_number=0, answer="{}", created_at=at
                )
            )
            s.execute(
                insert(SignInAttempt).values(
                    kind="password",
                    subject=key,
                    client_address="1.2.3.4",
                    succeeded=False,
                    reason="",
                    created_at=at,
                )
            )
            s.execute(
                insert(OneTimeCode).values(
                    id=f"otp_{key}",
                    purpose="sign_in",
                    destination="+6281100000001",
                    user_id=user.id,
                    code_hash="h",
                    attempts=0,
                    created_at=at,
                    expires_at=at + timedelta(minutes=5),
                    used_at=None,
                )
            )
            s.execute(
                insert(WebSession).values(
                    id_hash=key * 8,
                    user_id=user.id,
                    created_at=at,
                    expires_at=at + timedelta(hours=12),
                )
            )
    removed = purge(db, now=now)
    assert removed == {
        "idempotency_records": 1,
        "credit_control_answers": 1,
        "sign_in_attempts": 1,
        "one_time_codes": 1,
        "web_sessions": 1,
    }
    for model in (IdempotencyRecord, CreditControlAnswer, SignInAttempt, OneTimeCode, WebSession):
        assert count(db, model) == 1, model
    assert purge(db, now=now) == dict.fromkeys(removed, 0)
