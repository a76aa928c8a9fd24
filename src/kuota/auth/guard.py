"""Sign-in attempts: every one recorded, and too many failures lock the door a while.

Security timers keep real time (`real_now`), never the business clock that demo mode
lets a tester move. `KUOTA_RATE_LIMITS=off` lifts the limits (load tests) but every
attempt is still recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from kuota.auth.models import SignInAttempt
from kuota.core.errors import TooManyAttempts


class AttemptKind(StrEnum):
    PASSWORD = "password"
    CODE_REQUEST = "code_request"
    CODE_CHECK = "code_check"


@dataclass(frozen=True, slots=True)
class Limits:
    window: timedelta = timedelta(minutes=15)
    failures_per_subject: int = 5
    requests_per_subject: int = 5  # one-time codes sent to one number or address
    failures_per_address: int = 30


LIMITS = Limits()


def record(
    session: Session,
    *,
    kind: AttemptKind,
    subject: str,
    address: str,
    succeeded: bool,
    reason: str = "",
    now: datetime,
) -> None:
    session.execute(
        insert(SignInAttempt).values(
            kind=kind,
            subject=subject[:254],
            client_address=address[:64],
            succeeded=succeeded,
            reason=reason[:80],
            created_at=now,
        )
    )


def ensure_allowed(
    session: Session,
    *,
    kind: AttemptKind,
    subject: str,
    address: str,
    now: datetime,
    enabled: bool,
    limits: Limits = LIMITS,
) -> None:
    """Raise `TooManyAttempts` while the subject or the address is locked out."""
    if not enabled:
        return
    since = now - limits.window
    minutes = int(limits.window.total_seconds() // 60)
    if kind is AttemptKind.CODE_REQUEST:
        sent = _count(session, since, SignInAttempt.subject == subject, kind=kind)
        if sent >= limits.requests_per_subject:
            raise TooManyAttempts(
                f"{sent} codes were sent to {subject} in the last {minutes} minutes; "
                f"wait {minutes} minutes before asking for another"
            )
        return
    failures = _count(
        session, since, SignInAttempt.subject == subject, SignInAttempt.succeeded.is_(False)
    )
    if failures >= limits.failures_per_subject:
        raise TooManyAttempts(
            f"too many failed attempts for {subject}; it is locked for {minutes} minutes"
        )
    from_address = _count(
        session,
        since,
        SignInAttempt.client_address == address,
        SignInAttempt.succeeded.is_(False),
    )
    if from_address >= limits.failures_per_address:
        raise TooManyAttempts(
            f"too many failed attempts from your network; try again in {minutes} minutes"
        )


def _count(session: Session, since: datetime, *conditions: object, kind: str | None = None) -> int:
    query = (
        select(func.count())
        .select_from(SignInAttempt)
        .where(
            SignInAttempt.created_at >= since,
            *conditions,  # type: ignore[arg-type]
        )
    )
    if kind is not None:
        query = query.where(SignInAttempt.kind == kind)
    return int(session.execute(query).scalar_one())
