"""One-time codes: six digits sent by SMS (or e-mail) to prove a number or address is held.

A code lives five minutes and allows five tries; it is stored as an HMAC under the
secret key and bound to its purpose, so a code sent to attach a card cannot sign in.
Checking never raises inside the transaction: a wrong try must be counted (and
committed) even though the caller then refuses the request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from kuota.auth import guard
from kuota.auth.models import OneTimeCode
from kuota.core.clock import real_now
from kuota.core.context import Context
from kuota.core.errors import InvalidInput, KuotaError, TooManyAttempts
from kuota.core.ids import new_id
from kuota.notify import service as outbox
from kuota.notify.templates import render

CODE_TTL = timedelta(minutes=5)
MAX_TRIES = 5


class Purpose(StrEnum):
    ATTACH_CARD = "attach_card"
    SIGN_IN = "sign_in"
    RESET_PASSWORD = "reset_password"


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """The outcome of one try: `error` is what to tell the person when it failed."""

    destination: str
    user_id: int | None
    error: KuotaError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def _digest(ctx: Context, code_id: str, code: str) -> str:
    message = f"otp:{code_id}:{code}".encode()
    return hmac.new(ctx.secret_key.encode(), message, hashlib.sha256).hexdigest()


def send_code(
    session: Session,
    ctx: Context,
    *,
    purpose: Purpose,
    channel: str | None,
    destination: str,
    user_id: int | None,
    locale: str,
    address: str,
) -> str:
    """Queue a fresh code to `destination`; answers the challenge id the form carries.
    With no `channel` nothing is sent: the caller answers alike for unknown people."""
    now = real_now()
    guard.ensure_allowed(
        session,
        kind=guard.AttemptKind.CODE_REQUEST,
        subject=destination,
        address=address,
        now=now,
        enabled=ctx.settings.rate_limits,
    )
    code_id = new_id("otp")
    code = f"{secrets.randbelow(10**6):06d}"
    session.execute(
        insert(OneTimeCode).values(
            id=code_id,
            purpose=purpose,
            destination=destination,
            user_id=user_id,
            code_hash=_digest(ctx, code_id, code),
            attempts=0,
            created_at=now,
            expires_at=now + CODE_TTL,
            used_at=None,
        )
    )
    guard.record(
        session,
        kind=guard.AttemptKind.CODE_REQUEST,
        subject=destination,
        address=address,
        succeeded=True,
        reason=purpose,
        now=now,
    )
    if channel is None:
        return code_id
    subject, body = render(
        "one_time_code", locale, code=code, minutes=int(CODE_TTL.total_seconds() // 60)
    )
    outbox.enqueue(
        session, channel=channel, recipient=destination, subject=subject, body=body, now=now
    )
    return code_id


def check_code(
    session: Session,
    ctx: Context,
    *,
    code_id: str,
    code: str,
    purpose: Purpose,
    address: str,
) -> CodeCheck:
    """Spend one try. A right code is used up; a wrong one counts towards the five."""
    now = real_now()
    row = session.execute(
        select(OneTimeCode)
        .where(OneTimeCode.id == code_id, OneTimeCode.purpose == purpose)
        .with_for_update()
    ).scalar_one_or_none()
    if row is None:
        return CodeCheck("", None, InvalidInput("this code request is unknown; ask for a new code"))
    try:
        guard.ensure_allowed(
            session,
            kind=guard.AttemptKind.CODE_CHECK,
            subject=row.destination,
            address=address,
            now=now,
            enabled=ctx.settings.rate_limits,
        )
    except TooManyAttempts as exc:
        return CodeCheck(row.destination, row.user_id, exc)
    error: KuotaError | None = None
    cleaned = code.strip().replace(" ", "")
    if row.used_at is not None:
        error = InvalidInput("this code was already used; ask for a new one", field="code")
    elif row.expires_at <= now:
        error = InvalidInput("this code has expired; ask for a new one", field="code")
    elif row.attempts >= MAX_TRIES:
        error = TooManyAttempts("five wrong codes: this code is spent; ask for a new one")
    elif not (len(cleaned) == 6 and cleaned.isdigit()):
        error = InvalidInput("the code is the 6 digits we sent you", field="code")
    elif not hmac.compare_digest(row.code_hash, _digest(ctx, row.id, cleaned)):
        left = MAX_TRIES - row.attempts - 1
        error = (
            InvalidInput(f"wrong code; {left} tries left", field="code")
            if left
            else TooManyAttempts("five wrong codes: this code is spent; ask for a new one")
        )
    values: dict[str, object] = {"attempts": row.attempts + 1}
    if error is None:
        values["used_at"] = now
    session.execute(update(OneTimeCode).where(OneTimeCode.id == row.id).values(**values))
    guard.record(
        session,
        kind=guard.AttemptKind.CODE_CHECK,
        subject=row.destination,
        address=address,
        succeeded=error is None,
        reason=purpose if error is None else error.slug,
        now=now,
    )
    return CodeCheck(row.destination, row.user_id, error)
