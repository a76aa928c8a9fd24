"""Forgetting what is no longer needed: replayable answers past any retry, ended browser
sessions, spent one-time codes, old sign-in attempts. Run by `kuota worker` hourly.

Every cut-off is in real time (these are security and retry timers, not business
dates), and none touches money: payments, renewals, the ledger and the audit log are
kept for good.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Delete, delete

from kuota.auth.models import OneTimeCode, SignInAttempt, WebSession
from kuota.core.clock import real_now
from kuota.core.db import Database, run
from kuota.core.models import IdempotencyRecord
from kuota.usage.models import CreditControlAnswer

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


RETENTION = Retention()


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
    }


def purge(
    db: Database, *, now: datetime | None = None, keep: Retention = RETENTION
) -> dict[str, int]:
    """Delete what is past its retention, a table per transaction; answers the counts."""
    moment = now or real_now()
    counts: dict[str, int] = {}
    for table, statement in _statements(moment, keep).items():
        with db.unit_of_work() as session:
            counts[table] = int(run(session, statement).rowcount or 0)
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
