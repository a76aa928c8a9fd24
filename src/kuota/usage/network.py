"""What the network side asks: may this card use data (and how much), and what it used.

RADIUS access servers get the whole remaining quota as their limit and report use by
accounting; credit control (RFC 8506, 3GPP Gy semantics) grants slices and reserves
them. Both charge through `charging`, under the card's row lock, one transaction per
request.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from kuota.cards.models import Card, CardStatus
from kuota.cards.rules import normalize_msisdn
from kuota.core.context import Context
from kuota.core.db import fetch_rows, run, run_many, table_of
from kuota.core.errors import InvalidInput, KuotaError
from kuota.core.sql import in_list
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
_NEW_SESSION = insert(table_of(UsageSession))


def _number(msisdn: str) -> str | None:
    """The card number in E.164, or None when it cannot be one (an unknown subscriber)."""
    try:
        return normalize_msisdn(msisdn)
    except InvalidInput:
        return None


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


@dataclass(frozen=True, slots=True)
class AccountingRecord:
    """One RADIUS accounting record: the session's running totals as last reported."""

    msisdn: str
    session_key: str
    reported_total_bytes: int
    stop: bool
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
    """One accounting record on its own (see `account_many`)."""
    record = AccountingRecord(msisdn, session_key, reported_total_bytes, stop, nas_address)
    (accounted,) = account_many(session, [record], now)
    return accounted


def account_many(
    session: Session, records: Sequence[AccountingRecord], now: datetime
) -> list[Accounted]:
    """Accounting records, in their order: charge what each session used since its last
    record, in one transaction with one read and one write per table.

    The counters in a record are the session's running totals, so the charge is the
    difference from the highest total seen: a retransmission or duplicate charges
    nothing, and a record that arrives late (a lower total) never charges negative."""
    numbers = [_number(r.msisdn) for r in records]
    cards = {
        msisdn: int(card_id)
        for card_id, msisdn, _ in fetch_rows(
            session, _LOCK_CARDS, {"numbers": sorted({n for n in numbers if n is not None})}
        )
    }
    keys = sorted({_radius_key(r.session_key) for r in records})
    known = _load_sessions(session, keys)
    book = charging.QuotaBook.load(session, list(cards.values()), now)
    results = []
    for record, number in zip(records, numbers, strict=True):
        card_id = cards.get(number) if number is not None else None
        if card_id is None:
            results.append(Accounted(0, 0, False, None, record.nas_address))
            continue
        key = _radius_key(record.session_key)
        radius_session = known.get(key)
        if radius_session is None:
            radius_session = known[key] = _SessionRow.opened(
                key, card_id, "radius", record.nas_address, now
            )
        elif radius_session.card_id != card_id:
            # The same session id for another card: never charge one card for another's use.
            results.append(Accounted(0, 0, False, card_id, record.nas_address))
            continue
        delta = max(0, record.reported_total_bytes - radius_session.reported_bytes)
        charged = book.charge(card_id, delta, source="radius", session_id=key)
        radius_session.reported_bytes = max(
            radius_session.reported_bytes, record.reported_total_bytes
        )
        radius_session.charged_bytes += charged.charged
        radius_session.updated_at = now
        radius_session.nas_address = record.nas_address or radius_session.nas_address
        radius_session.status = "closed" if record.stop else "open"
        radius_session.changed = True
        exhausted = not record.stop and charged.available_after <= 0
        results.append(
            Accounted(
                charged.charged, charged.uncharged, exhausted, card_id, radius_session.nas_address
            )
        )
    _save_sessions(session, known.values())
    book.save(session)
    return results


def _radius_key(session_key: str) -> str:
    return f"radius:{session_key}"[:120]


@dataclass(frozen=True, slots=True)
class CreditControlRequest:
    session_id: str
    msisdn: str
    request_type: str  # initial | update | terminate
    request_number: int
    requested_bytes: int | None = None
    used_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class _CardRow:
    id: int
    msisdn: str
    status: str


_LOCK_CARDS = (
    select(Card.id, Card.msisdn, Card.status)
    .where(in_list(Card.msisdn, "numbers"))
    .order_by(Card.msisdn)
    .with_for_update()
)
_LOCK_CARDS_BY_ID = (
    select(Card.id).where(in_list(Card.id, "ids")).order_by(Card.msisdn).with_for_update()
)
# Two lists rather than a list of pairs: SQLite scans the whole table for a row-value IN,
# and searches the primary key for these (the few extra pairs are dropped in Python).
_STORED_ANSWERS = select(
    CreditControlAnswer.session_id, CreditControlAnswer.request_number, CreditControlAnswer.answer
).where(
    in_list(CreditControlAnswer.session_id, "session_ids"),
    in_list(CreditControlAnswer.request_number, "numbers"),
)
_NEW_ANSWER = insert(table_of(CreditControlAnswer))


def credit_control(session: Session, ctx: Context, request: CreditControlRequest) -> dict[str, Any]:
    """Answer one credit-control request; the same (session_id, request_number) gets the
    first answer again and changes nothing."""
    (outcome,) = credit_control_many(session, ctx, [request])
    if isinstance(outcome, KuotaError):
        raise outcome
    return outcome


def credit_control_many(
    session: Session, ctx: Context, requests: Sequence[CreditControlRequest]
) -> list[dict[str, Any] | KuotaError]:
    """Answer a group of credit-control requests in one transaction, in their order, as
    if each had its own: every answer (or refusal) is the one it would get alone.

    The group's cards are locked first, in card-number order; then its stored answers,
    sessions, reservations and packages are read in one query each, the requests run in
    memory, and what changed is written back in one statement per table. A refusal
    (a session never opened, a request number gone back) changes nothing and does not
    stop the others."""
    now = ctx.clock.now()
    numbers = [_number(r.msisdn) for r in requests]
    wanted_numbers = sorted({n for n in numbers if n is not None})
    cards = {
        msisdn: _CardRow(card_id, msisdn, status)
        for card_id, msisdn, status in fetch_rows(session, _LOCK_CARDS, {"numbers": wanted_numbers})
    }
    pairs = {(r.session_id, r.request_number) for r in requests}
    stored: dict[tuple[str, int], str] = {}
    for session_id, request_number, answer in fetch_rows(
        session,
        _STORED_ANSWERS,
        {
            "session_ids": sorted({r.session_id for r in requests}),
            "numbers": sorted({r.request_number for r in requests}),
        },
    ):
        if (session_id, request_number) in pairs:
            stored[session_id, request_number] = answer
    keys = sorted({_gy_key(r.session_id) for r in requests})
    gy_sessions = _load_sessions(session, keys)
    book = charging.QuotaBook.load(
        session, [card.id for card in cards.values()], now, session_keys=keys
    )
    outcomes: list[dict[str, Any] | KuotaError] = []
    answers: list[dict[str, Any]] = []
    for request, number in zip(requests, numbers, strict=True):
        pair = (request.session_id, request.request_number)
        if pair in stored:
            outcomes.append(orjson.loads(stored[pair]))
            continue
        card = cards.get(number) if number is not None else None
        try:
            answer = _answer(book, gy_sessions, ctx, request, card, now)
        except KuotaError as refusal:
            outcomes.append(refusal)
            continue
        stored[pair] = orjson.dumps(answer).decode()
        answers.append(
            {
                "session_id": request.session_id,
                "request_number": request.request_number,
                "answer": stored[pair],
                "created_at": now,
            }
        )
        outcomes.append(answer)
    _save_sessions(session, gy_sessions.values())
    book.save(session)
    if answers:
        run_many(session, _NEW_ANSWER, answers)
    return outcomes


def _gy_key(session_id: str) -> str:
    return f"gy:{session_id}"[:120]


@dataclass(slots=True)
class _SessionRow:
    """A `usage_sessions` row, read once per group, changed in memory, written back once."""

    id: str
    card_id: int
    source: str
    nas_address: str | None
    reported_bytes: int
    charged_bytes: int
    last_request_number: int
    status: str
    started_at: datetime
    updated_at: datetime
    reservation_expires_at: datetime | None
    new: bool = False
    changed: bool = False

    @classmethod
    def opened(
        cls, key: str, card_id: int, source: str, nas_address: str | None, now: datetime
    ) -> _SessionRow:
        return cls(key, card_id, source, nas_address, 0, 0, -1, "open", now, now, None, new=True)

    def values(self, names: tuple[str, ...]) -> dict[str, Any]:
        return {name: getattr(self, name) for name in names}


_SESSION_FIELDS = (
    "id",
    "card_id",
    "source",
    "nas_address",
    "reported_bytes",
    "charged_bytes",
    "last_request_number",
    "status",
    "started_at",
    "updated_at",
    "reservation_expires_at",
)
_CHANGING = tuple(  # what a report can change
    name for name in _SESSION_FIELDS if name not in ("id", "card_id", "source", "started_at")
)
_SESSIONS = select(*(getattr(UsageSession, name) for name in _SESSION_FIELDS)).where(
    in_list(UsageSession.id, "keys")
)
_SESSION_WRITE = (
    update(UsageSession)
    .where(UsageSession.id == bindparam("w_id"))
    .values({name: bindparam(name) for name in _CHANGING})
)


def _load_sessions(session: Session, keys: list[str]) -> dict[str, _SessionRow]:
    rows: dict[str, _SessionRow] = {}
    for row in fetch_rows(session, _SESSIONS, {"keys": keys}):
        rows[row[0]] = _SessionRow(*row)  # columns read in the fields' order
    return rows


def _save_sessions(session: Session, rows: Iterable[_SessionRow]) -> None:
    new, changed = [], []
    for row in rows:
        if row.new:
            new.append(row.values(_SESSION_FIELDS))
        elif row.changed:
            changed.append({"w_id": row.id, **row.values(_CHANGING)})
        row.new = row.changed = False
    run_many(session, _NEW_SESSION, new)
    run_many(session, _SESSION_WRITE, changed)


def _answer(
    book: charging.QuotaBook,
    gy_sessions: dict[str, _SessionRow],
    ctx: Context,
    request: CreditControlRequest,
    card: _CardRow | None,
    now: datetime,
) -> dict[str, Any]:
    if card is None:
        return {"result_code": USER_UNKNOWN, "granted_bytes": 0, "validity_time": 0}
    key = _gy_key(request.session_id)
    usage_session = gy_sessions.get(key)
    if usage_session is None:
        if request.request_type != "initial":
            raise InvalidInput(
                f"credit-control session {request.session_id!r} was never opened: send "
                "request_type 'initial' first",
                field="session_id",
            )
        usage_session = _SessionRow.opened(key, card.id, "gy", None, now)
        gy_sessions[key] = usage_session
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
    # Closed for silence (its slice outlived validity_time) or terminated: a late report
    # is still use that happened, so it is charged, and the session reopens.
    usage_session.status = "open"
    usage_session.changed = True
    usage_session.last_request_number = request.request_number
    usage_session.updated_at = now
    # What was used is charged against what was reserved for it (released first).
    book.release(key)
    used = request.used_bytes or 0
    if used:
        charged = book.charge(card.id, used, source="gy", session_id=key)
        usage_session.charged_bytes += charged.charged
        usage_session.reported_bytes += used
    if request.request_type == "terminate":
        usage_session.status = "closed"
        usage_session.reservation_expires_at = None
        return {"result_code": SUCCESS, "granted_bytes": 0, "validity_time": 0}
    if card.status == CardStatus.TERMINATED:
        usage_session.reservation_expires_at = None
        return {"result_code": CREDIT_LIMIT_REACHED, "granted_bytes": 0, "validity_time": 0}
    slice_bytes = ctx.settings.credit_control_slice_bytes
    wanted = min(request.requested_bytes or slice_bytes, slice_bytes)
    quota = book.quota(card.id)
    granted = book.reserve(card.id, key, min(wanted, max(quota.available, 0)))
    if granted <= 0:
        usage_session.reservation_expires_at = None
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
    element is gone; its reservation goes back to the card.

    The cards are locked first (in card-number order, as credit control does) and the
    sessions read again under the locks: a report that arrived meanwhile keeps its
    session open."""
    stale = run(session, _STALE, {"now": now, "limit": limit}).all()
    if not stale:
        return 0
    run(session, _LOCK_CARDS_BY_ID, {"ids": sorted({row.card_id for row in stale})}).all()
    keys = list(
        run(session, _STILL_STALE, {"now": now, "keys": [row.id for row in stale]}).scalars()
    )
    if not keys:
        return 0
    book = charging.QuotaBook.load(session, [], now, session_keys=keys)
    for key in keys:
        book.release(key)
    book.save(session)
    run(session, _CLOSE_SESSIONS, {"keys": keys, "now": now})
    return len(keys)


_STALE_WHERE = (
    UsageSession.status == "open",
    UsageSession.reservation_expires_at.is_not(None),
    UsageSession.reservation_expires_at <= bindparam("now"),
)
_STALE = (
    select(UsageSession.id, UsageSession.card_id).where(*_STALE_WHERE).limit(bindparam("limit"))
)
_STILL_STALE = select(UsageSession.id).where(in_list(UsageSession.id, "keys"), *_STALE_WHERE)
_CLOSE_SESSIONS = (
    update(UsageSession)
    .where(in_list(UsageSession.id, "keys"))
    .values(status="closed", reservation_expires_at=None, updated_at=bindparam("now"))
)
