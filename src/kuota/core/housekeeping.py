"""Forgetting what is no longer needed: replayable answers past any retry, ended browser
sessions and API tokens, spent one-time codes, old sign-in attempts, and usage records
past the time anyone is shown or asks about them. Run by `kuota worker` hourly.

Every cut-off is in real time (these are security and retry timers, and a retention
period, not business dates), and none touches money: payments, renewals, the ledger,
packages and the audit log are kept for good.

Usage records are the biggest table (one row per charge), so they go oldest first, in
slices of their key (which grows with time), `USAGE_SLICE` rows to a transaction: no
pass scans the whole table or holds the writer long. A pass stops at the first slice
that holds a record still kept; a record imported late (an old time, a new key) waits
until the records a slice before it have gone.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Delete, bindparam, delete, func, select

from kuota.auth.models import ApiToken, OneTimeCode, SignInAttempt, WebSession
from kuota.core.clock import real_now
from kuota.core.db import Database, run
from kuota.core.models import IdempotencyRecord
from kuota.usage.models import CreditControlAnswer, UsageRecord

log = logging.getLogger("kuota.housekeeping")


@dataclass(frozen=True, slots=True)
class Retention:
    # An Idempotency-Key is retried within minutes; a month covers any client's backlog.
    idempotency_answers: timedelta = timedelta(days=30)
    # A credit-control request is retried within seconds of its session's life.
    credit_control_answers: timedelta = timedelta(days=7)
    # Attempts feed the 15-minute lockouts and the audit of who tried what.
    sign_in_attempts: timedelta = timedelta(days=90)
    # Codes live 5 minutes; a day keeps them for anyone looking into a complaint.
    one_time_codes: timedelta = timedelta(days=1)
    # Usage per day is shown for a package's life; a year and a month covers a
    # subscriber's questions about last year's bill and an operator's audit.
    usage_records: timedelta = timedelta(days=400)


RETENTION = Retention()
USAGE_SLICE = 10_000  # usage records looked at per transaction
USAGE_SLICES_PER_PASS = 100  # at most a million a pass; the next pass goes on


def _statements(now: datetime, keep: Retention) -> dict[str, Delete]:
    return {
        "idempotency_records": delete(IdempotencyRecord).where(
            IdempotencyRecord.created_at < now - keep.idempotency_answers
        ),
        "credit_control_answers": delete(CreditControlAnswer).where(
            CreditControlAnswer.created_at < now - keep.credit_control_answers
        ),
        "sign_in_attempts": delete(SignInAttempt).where(
            SignInAttempt.created_at < now - keep.sign_in_attempts
        ),
        "one_time_codes": delete(OneTimeCode).where(
            OneTimeCode.expires_at < now - keep.one_time_codes
        ),
        "web_sessions": delete(WebSession).where(WebSession.expires_at < now),
        # An expired token is refused already; only its hash was kept.
        "api_tokens": delete(ApiToken).where(ApiToken.expires_at < now),
    }


_OLDEST_USAGE = select(func.min(UsageRecord.id))
_USAGE_SLICE = UsageRecord.id < bindparam("below")
_DROP_USAGE = delete(UsageRecord).where(_USAGE_SLICE, UsageRecord.recorded_at < bindparam("cut"))
_KEPT_USAGE = select(func.count()).select_from(UsageRecord).where(_USAGE_SLICE)


def _purge_usage(db: Database, cut: datetime) -> int:
    """Usage records from before `cut`, oldest key first, a slice per transaction."""
    removed = 0
    for _ in range(USAGE_SLICES_PER_PASS):
        with db.unit_of_work() as session:
            oldest = run(session, _OLDEST_USAGE).scalar()
            if oldest is None:
                break
            params = {"below": oldest + USAGE_SLICE, "cut": cut}
            removed += int(run(session, _DROP_USAGE, params).rowcount or 0)
            kept = run(session, _KEPT_USAGE, params).scalar_one()
        if kept:  # this slice reaches records still kept: later slices are newer
            break
    return removed


def purge(
    db: Database, *, now: datetime | None = None, keep: Retention = RETENTION
) -> dict[str, int]:
    """Delete what is past its retention, a table per transaction; answers the counts."""
    moment = now or real_now()
    counts: dict[str, int] = {}
    for table, statement in _statements(moment, keep).items():
        with db.unit_of_work() as session:
            counts[table] = int(run(session, statement).rowcount or 0)
    counts["usage_records"] = _purge_usage(db, moment - keep.usage_records)
    return counts


def run_forever(db: Database, *, stop: threading.Event, interval_seconds: float = 3600.0) -> None:
    log.info("housekeeping started")
    while not stop.is_set():
        try:
            removed = {table: n for table, n in purge(db).items() if n}
            if removed:
                log.info("housekeeping removed %s", removed)
        except Exception:
            log.exception("housekeeping failed; trying again later")
        stop.wait(interval_seconds)
    log.info("housekeeping stopped")
