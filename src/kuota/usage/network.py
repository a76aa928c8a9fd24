"""What the network side asks: may this card use data (and how much), and what it used.

RADIUS access servers get the whole remaining quota as their limit and report use by
accounting; credit control (RFC 8506, 3GPP Gy semantics) grants slices and reserves
them. Both charge through `charging`, under the card's row lock, one transaction per
request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from kuota.cards.models import Card, CardStatus
from kuota.cards.rules import normalize_msisdn
from kuota.core.context import Context
from kuota.core.db import run, table_of
from kuota.core.errors import InvalidInput
from kuota.usage import charging
from kuota.usage.models import CreditControlAnswer, Package, UsageSession

# Diameter result codes (RFC 6733 / RFC 8506).
SUCCESS = 2001
CREDIT_LIMIT_REACHED = 4012
USER_UNKNOWN = 5030

DEFAULT_VALIDITY = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Access:
    """The answer to an Access-Request."""

    accept: bool
    reason: str  # a Reply-Message a person can read
    card_id: int | None = None
    remaining_bytes: int = 0
    session_timeout_seconds: int = 0


_CARD = select(Card).where(Card.msisdn == bindparam("msisdn"))
_CARD_ID = select(Card.id).where(Card.msisdn == bindparam("msisdn"))
_RADIUS_SESSION = select(
    UsageSession.card_id, UsageSession.reported_bytes, UsageSession.nas_address
).where(UsageSession.id == bindparam("key"))
_NEW_SESSION = insert(table_of(UsageSession))
_SESSION_REPORTED = (
    update(UsageSession)
    .where(UsageSession.id == bindparam("w_key"))
    .values(
        reported_bytes=bindparam("reported"),
        charged_bytes=UsageSession.charged_bytes + bindparam("charged"),
        updated_at=bindparam("now"),
        nas_address=bindparam("nas"),
        status=bindparam("state"),
    )
)


def _number(msisdn: str) -> str | None:
    """The card number in E.164, or None when it cannot be one (an unknown subscriber)."""
    try:
        return normalize_msisdn(msisdn)
    except InvalidInput:
        return None


def _card_id(session: Session, msisdn: str) -> int | None:
    """The card's id by number (accounting runs this per record: one prebuilt query)."""
    number = _number(msisdn)
    if number is None:
        return None
    return run(session, _CARD_ID, {"msisdn": number}).scalar_one_or_none()


def _card(session: Session, msisdn: str) -> Card | None:
    number = _number(msisdn)
    if number is None:
        return None
    return session.execute(_CARD, {"msisdn": number}).scalar_one_or_none()


def authorize(session: Session, msisdn: str, now: datetime) -> Access:
    """May this card start a data session? Accepted with its whole remaining quota and a
    session timeout no later than its earliest-expiring package with quota left."""
    card = _card(session, msisdn)
    if card is None:
        return Access(False, "unknown subscriber")
    if card.status == CardStatus.TERMINATED:
        return Access(False, "card blocked: terminated", card.id)
    quota = charging.quota_of(session, card.id, now)
    if quota.available <= 0:
        active = session.execute(
            select(Package.id).where(Package.card_id == card.id, Package.expires_at > now).limit(1)
        ).first()
        if active is not None:
            return Access(False, "data quota used up", card.id)
        had_any = session.execute(
            select(Package.id).where(Package.card_id == card.id).limit(1)
        ).first()
        reason = "all data packages expired" if had_any else "no data package"
        return Access(False, reason, card.id)
    assert quota.earliest_expiry is not None
    timeout = int((quota.earliest_expiry - now).total_seconds())
    return Access(True, "ok", card.id, quota.available, max(timeout, 1))


@dataclass(frozen=True, slots=True)
class Accounted:
    charged: int
    uncharged: int
    exhausted: bool  # nothing left: the access server should cut the session
    card_id: int | None
    nas_address: str | None


def account(
    session: Session,
    *,
    msisdn: str,
    session_key: str,
    reported_total_bytes: int,
    stop: bool,
    nas_address: str | None,
    now: datetime,
) -> Accounted:
    """One accounting record: charge what the session used since its last record.

    The counters in a record are the session's running totals, so the charge is the
    difference from the highest total seen: a retransmission or duplicate charges
    nothing, and a record that arrives late (a lower total) never charges negative."""
    card_id = _card_id(session, msisdn)
    if card_id is None:
        return Accounted(0, 0, False, None, nas_address)
    charging.lock_card(session, card_id)
    key = f"radius:{session_key}"[:120]
    row = run(session, _RADIUS_SESSION, {"key": key}).first()
    if row is None:
        run(
            session,
            _NEW_SESSION,
            {
                "id": key,
                "card_id": card_id,
                "source": "radius",
                "nas_address": nas_address,
                "reported_bytes": 0,
                "charged_bytes": 0,
                "last_request_number": -1,
                "status": "open",
                "started_at": now,
                "updated_at": now,
                "reservation_expires_at": None,
            },
        )
        reported, known_nas = 0, nas_address
    elif row.card_id != card_id:
        # The same session id for another card: never charge one card for another's use.
        return Accounted(0, 0, False, card_id, nas_address)
    else:
        reported, known_nas = int(row.reported_bytes), row.nas_address
    delta = max(0, reported_total_bytes - reported)
    result = charging.charge(session, card_id, delta, now, source="radius", session_id=key)
    run(
        session,
        _SESSION_REPORTED,
        {
            "w_key": key,
            "reported": max(reported, reported_total_bytes),
            "charged": result.charged,
            "now": now,
            "nas": nas_address or known_nas,
            "state": "closed" if stop else "open",
        },
    )
    exhausted = not stop and result.available_after <= 0
    return Accounted(result.charged, result.uncharged, exhausted, card_id, nas_address or known_nas)


@dataclass(frozen=True, slots=True)
class CreditControlRequest:
    session_id: str
    msisdn: str
    request_type: str  # initial | update | terminate
    request_number: int
    requested_bytes: int | None = None
    used_bytes: int | None = None


def credit_control(session: Session, ctx: Context, request: CreditControlRequest) -> dict[str, Any]:
    """Answer one credit-control request; the same (session_id, request_number) gets the
    first answer again and changes nothing."""
    now = ctx.clock.now()
    card = _card(session, request.msisdn)
    if card is not None:
        # Taken before looking for a stored answer: a concurrent retry of this very
        # request waits here for the first, then finds its answer.
        charging.lock_card(session, card.id)
    stored = session.get(CreditControlAnswer, (request.session_id, request.request_number))
    if stored is not None:
        answer: dict[str, Any] = orjson.loads(stored.answer)
        return answer
    answer = _answer(session, ctx, request, card, now)
    session.add(
        CreditControlAnswer(
            session_id=request.session_id,
            request_number=request.request_number,
            answer=orjson.dumps(answer).decode(),
            created_at=now,
        )
    )
    session.flush()
    return answer


def _answer(
    session: Session,
    ctx: Context,
    request: CreditControlRequest,
    card: Card | None,
    now: datetime,
) -> dict[str, Any]:
    if card is None:
        return {"result_code": USER_UNKNOWN, "granted_bytes": 0, "validity_time": 0}
    key = f"gy:{request.session_id}"[:120]
    usage_session = session.get(UsageSession, key)
    if usage_session is None:
        if request.request_type != "initial":
            raise InvalidInput(
                f"credit-control session {request.session_id!r} was never opened: send "
                "request_type 'initial' first",
                field="session_id",
            )
        usage_session = UsageSession(
            id=key,
            card_id=card.id,
            source="gy",
            nas_address=None,
            reported_bytes=0,
            charged_bytes=0,
            last_request_number=-1,
            status="open",
            started_at=now,
            updated_at=now,
            reservation_expires_at=None,
        )
        session.add(usage_session)
        session.flush()
    elif usage_session.card_id != card.id:
        raise InvalidInput(
            f"session {request.session_id!r} belongs to another card", field="msisdn"
        )
    if request.request_number <= usage_session.last_request_number:
        raise InvalidInput(
            f"request_number {request.request_number} is not after "
            f"{usage_session.last_request_number} in session {request.session_id!r}",
            field="request_number",
        )
    if usage_session.status == "closed":
        # Closed for silence (its slice outlived validity_time) or terminated: a late
        # report is still use that happened, so it is charged, and the session reopens.
        usage_session.status = "open"
    usage_session.last_request_number = request.request_number
    usage_session.updated_at = now
    # What was used is charged against what was reserved for it (released first).
    charging.release(session, key)
    used = request.used_bytes or 0
    if used:
        charged = charging.charge(session, card.id, used, now, source="gy", session_id=key)
        usage_session.charged_bytes += charged.charged
        usage_session.reported_bytes += used
    if request.request_type == "terminate":
        usage_session.status = "closed"
        usage_session.reservation_expires_at = None
        session.flush()
        return {"result_code": SUCCESS, "granted_bytes": 0, "validity_time": 0}
    if card.status == CardStatus.TERMINATED:
        return {"result_code": CREDIT_LIMIT_REACHED, "granted_bytes": 0, "validity_time": 0}
    slice_bytes = ctx.settings.credit_control_slice_bytes
    wanted = min(request.requested_bytes or slice_bytes, slice_bytes)
    quota = charging.quota_of(session, card.id, now)
    granted = charging.reserve(session, card.id, key, min(wanted, max(quota.available, 0)), now)
    if granted <= 0:
        usage_session.reservation_expires_at = None
        session.flush()
        return {
            "result_code": CREDIT_LIMIT_REACHED,
            "granted_bytes": 0,
            "validity_time": 0,
            "final_unit": _final_unit(ctx, card.msisdn),
        }
    validity = DEFAULT_VALIDITY
    if quota.earliest_expiry is not None:
        validity = min(validity, quota.earliest_expiry - now)
    seconds = max(int(validity.total_seconds()), 1)
    usage_session.reservation_expires_at = now + timedelta(seconds=seconds)
    session.flush()
    answer: dict[str, Any] = {
        "result_code": SUCCESS,
        "granted_bytes": granted,
        "validity_time": seconds,
    }
    if granted >= quota.available:  # the last slice: what happens when it is used up
        answer["final_unit"] = _final_unit(ctx, card.msisdn)
    return answer


def _final_unit(ctx: Context, msisdn: str) -> dict[str, str]:
    return {
        "action": "redirect",
        "redirect_url": f"{ctx.settings.public_url}/renew?msisdn={msisdn.replace('+', '%2B')}",
    }


def release_expired_reservations(session: Session, now: datetime, limit: int = 1000) -> int:
    """Sessions whose granted slice outlived its validity without a report: the network
    element is gone; its reservation goes back to the card."""
    stale = list(
        session.execute(
            select(UsageSession.id)
            .where(
                UsageSession.status == "open",
                UsageSession.reservation_expires_at.is_not(None),
                UsageSession.reservation_expires_at <= now,
            )
            .limit(limit)
        ).scalars()
    )
    for key in stale:
        charging.release(session, key)
    if stale:
        session.execute(
            update(UsageSession)
            .where(UsageSession.id.in_(stale))
            .values(status="closed", reservation_expires_at=None, updated_at=now)
        )
    return len(stale)
