"""Housekeeping forgets what is past its retention and nothing that is still needed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from kuota.auth.models import ApiToken, OneTimeCode, SignInAttempt, WebSession
from kuota.cards.models import Card
from kuota.core import housekeeping
from kuota.core.clock import FixedClock
from kuota.core.context import Context
from kuota.core.db import Database
from kuota.core.housekeeping import purge
from kuota.core.models import IdempotencyRecord
from kuota.usage.models import CreditControlAnswer, UsageRecord

from factories import make_card, make_subscriber


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
            # A browser session and an API token, each living 12 hours.
            for model, hashed in ((WebSession, "id_hash"), (ApiToken, "token_hash")):
                s.execute(
                    insert(model).values(
                        {
                            hashed: f"{model.__name__}-{key}",
                            "user_id": user.id,
                            "created_at": at,
                            "expires_at": at + timedelta(hours=12),
                        }
                    )
                )
        card_id = _card_id(s, ctx, user)
        for at in (old - timedelta(days=1), recent):  # kept for 400 days
            s.execute(insert(UsageRecord).values(**_usage(card_id, at)))
    removed = purge(db, now=now)
    assert removed == {
        "idempotency_records": 1,
        "credit_control_answers": 1,
        "sign_in_attempts": 1,
        "one_time_codes": 1,
        "web_sessions": 1,
        "api_tokens": 1,
        "usage_records": 1,
    }
    for model in (
        IdempotencyRecord,
        CreditControlAnswer,
        SignInAttempt,
        OneTimeCode,
        WebSession,
        ApiToken,
        UsageRecord,
    ):
        assert count(db, model) == 1, model
    assert purge(db, now=now) == dict.fromkeys(removed, 0)


def _card_id(s: Any, ctx: Context, user: Any) -> int:
    msisdn = make_card(s, ctx, user)
    return int(s.execute(select(Card.id).where(Card.msisdn == msisdn)).scalar_one())


def _usage(card_id: int, at: datetime) -> dict[str, Any]:
    return {
        "card_id": card_id,
        "package_id": None,
        "session_id": None,
        "source": "gy",
        "bytes": 0,
        "uncharged_bytes": 1,
        "recorded_at": at,
    }


def test_usage_records_go_oldest_key_first_a_slice_at_a_time(
    db: Database, ctx: Context, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slices of two: the first two old records go, the next slice holds one still kept
    so the pass stops there; the old record imported after it waits for a later pass,
    whose first slice reaches it."""
    monkeypatch.setattr(housekeeping, "USAGE_SLICE", 2)
    now = clock.now()
    old, recent = now - timedelta(days=401), now - timedelta(days=399)
    with db.unit_of_work() as s:
        card_id = _card_id(s, ctx, make_subscriber(s, ctx))
        for at in (old, old, old, recent, old):
            s.execute(insert(UsageRecord).values(**_usage(card_id, at)))
    assert purge(db, now=now)["usage_records"] == 3
    with db.unit_of_work(write=False) as s:
        left = s.execute(select(UsageRecord.recorded_at).order_by(UsageRecord.id)).scalars()
        assert list(left) == [recent, old]
    # The next pass starts at `recent`: its slice reaches the late one.
    assert purge(db, now=now)["usage_records"] == 1
    assert purge(db, now=now)["usage_records"] == 0  # nothing more until `recent` ages
    assert purge(db, now=now + timedelta(days=2))["usage_records"] == 1
    assert count(db, UsageRecord) == 0
