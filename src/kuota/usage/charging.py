"""Charging data use against a card's packages, and reserving quota for open sessions.

The rules (PRODUCT.md): usage draws from the active package that expires first; a
package's used bytes never exceed its total; quota granted to an open credit-control
session is reserved, so two sessions of one card can never together be granted
more than the card has. Bytes reported beyond what is left are recorded as
uncharged, never charged: the card cannot go below zero.

Every function runs in the caller's transaction; the caller takes the card's row
lock first (`lock_card`, on PostgreSQL; SQLite writers are serial), so charges and
grants for one card never interleave. Package updates are still conditional, as a
second guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from kuota.cards.models import Card
from kuota.core.db import run, table_of
from kuota.core.errors import InvalidInput
from kuota.usage.models import Package, QuotaReservation, UsageRecord

_ACTIVE = (
    select(
        Package.id,
        Package.quota_total_bytes,
        Package.quota_used_bytes,
        Package.quota_reserved_bytes,
        Package.expires_at,
    )
    .where(Package.card_id == bindparam("card_id"), Package.expires_at > bindparam("now"))
    .order_by(Package.expires_at, Package.id)
)
_USE = (
    update(Package)
    .where(
        Package.id == bindparam("w_id"),
        Package.quota_used_bytes + bindparam("take") <= Package.quota_total_bytes,
    )
    .values(quota_used_bytes=Package.quota_used_bytes + bindparam("take"))
)
_RESERVE = (
    update(Package)
    .where(
        Package.id == bindparam("w_id"),
        Package.quota_used_bytes + Package.quota_reserved_bytes + bindparam("take")
        <= Package.quota_total_bytes,
    )
    .values(quota_reserved_bytes=Package.quota_reserved_bytes + bindparam("take"))
)
_UNRESERVE = (
    update(Package)
    .where(Package.id == bindparam("w_id"))
    .values(quota_reserved_bytes=Package.quota_reserved_bytes - bindparam("take"))
)
_RECORD = insert(table_of(UsageRecord))
_HELD = select(QuotaReservation.package_id, QuotaReservation.bytes).where(
    QuotaReservation.session_id == bindparam("session_id")
)
_ADD_TO_RESERVATION = (
    update(table_of(QuotaReservation))
    .where(
        QuotaReservation.session_id == bindparam("w_session_id"),
        QuotaReservation.package_id == bindparam("w_package_id"),
    )
    .values(bytes=QuotaReservation.bytes + bindparam("take"))
)
_NEW_RESERVATION = insert(table_of(QuotaReservation)).values(
    session_id=bindparam("session_id"),
    package_id=bindparam("package_id"),
    bytes=bindparam("take"),
)
_DROP_RESERVATIONS = delete(table_of(QuotaReservation)).where(
    QuotaReservation.session_id == bindparam("session_id")
)
_LOCK_CARD = select(Card.id).where(Card.id == bindparam("card_id")).with_for_update()


@dataclass(frozen=True, slots=True)
class Quota:
    remaining: int  # total minus used, over active packages
    reserved: int  # granted to open sessions, not yet reported
    earliest_expiry: datetime | None

    @property
    def available(self) -> int:
        return self.remaining - self.reserved


@dataclass(frozen=True, slots=True)
class Charge:
    charged: int
    uncharged: int  # reported beyond what was left
    available_after: int  # what the card can still be granted, after this charge


def lock_card(session: Session, card_id: int) -> None:
    run(session, _LOCK_CARD, {"card_id": card_id}).first()


def quota_of(session: Session, card_id: int, now: datetime) -> Quota:
    rows = run(session, _ACTIVE, {"card_id": card_id, "now": now}).all()
    return Quota(
        remaining=sum(r.quota_total_bytes - r.quota_used_bytes for r in rows),
        reserved=sum(r.quota_reserved_bytes for r in rows),
        earliest_expiry=min(
            (r.expires_at for r in rows if r.quota_total_bytes > r.quota_used_bytes), default=None
        ),
    )


def charge(
    session: Session,
    card_id: int,
    used_bytes: int,
    now: datetime,
    *,
    source: str,
    session_id: str | None = None,
) -> Charge:
    """Charge `used_bytes` to the card's active packages, earliest expiry first. A
    session's own reservation must be released first: it is the session's use that is
    being reported."""
    if used_bytes < 0:
        raise InvalidInput("used bytes cannot be negative", field="used_bytes")
    rows = run(session, _ACTIVE, {"card_id": card_id, "now": now}).all()
    used_now = {row.id: row.quota_used_bytes for row in rows}

    def available() -> int:
        return sum(r.quota_total_bytes - used_now[r.id] - r.quota_reserved_bytes for r in rows)

    if used_bytes == 0:
        return Charge(0, 0, available())
    need = used_bytes
    records = []
    # Bytes already used are charged: first from quota nobody holds, then, if that is
    # not enough, from quota reserved for other sessions (they are then granted less).
    for unreserved_only in (True, False):
        for row in rows:
            if need == 0:
                break
            headroom = row.quota_total_bytes - used_now[row.id]
            if unreserved_only:
                headroom -= row.quota_reserved_bytes
            take = min(need, headroom)
            if take <= 0:
                continue
            if run(session, _USE, {"w_id": row.id, "take": take}).rowcount != 1:
                continue
            used_now[row.id] += take
            records.append({"package_id": row.id, "bytes": take, "uncharged_bytes": 0})
            need -= take
    if need:
        records.append({"package_id": None, "bytes": 0, "uncharged_bytes": need})
    run(
        session,
        _RECORD,
        [
            {
                **record,
                "card_id": card_id,
                "session_id": session_id,
                "source": source,
                "recorded_at": now,
            }
            for record in records
        ],
    )
    return Charge(used_bytes - need, need, available())


def reserve(session: Session, card_id: int, session_id: str, wanted: int, now: datetime) -> int:
    """Reserve up to `wanted` bytes for a session, from packages in draw order; returns
    what was granted (0 when nothing is left)."""
    if wanted <= 0:
        return 0
    granted = 0
    for row in run(session, _ACTIVE, {"card_id": card_id, "now": now}).all():
        free = row.quota_total_bytes - row.quota_used_bytes - row.quota_reserved_bytes
        take = min(wanted - granted, free)
        if take <= 0:
            continue
        if run(session, _RESERVE, {"w_id": row.id, "take": take}).rowcount != 1:
            continue
        added = run(
            session,
            _ADD_TO_RESERVATION,
            {"w_session_id": session_id, "w_package_id": row.id, "take": take},
        )
        if added.rowcount != 1:
            run(
                session,
                _NEW_RESERVATION,
                {"session_id": session_id, "package_id": row.id, "take": take},
            )
        granted += take
        if granted == wanted:
            break
    return granted


def release(session: Session, session_id: str) -> int:
    """Give a session's reserved quota back; returns how much was released."""
    held = [
        (int(r.package_id), int(r.bytes)) for r in run(session, _HELD, {"session_id": session_id})
    ]
    for package_id, amount in held:
        run(session, _UNRESERVE, {"w_id": package_id, "take": amount})
    if held:
        run(session, _DROP_RESERVATIONS, {"session_id": session_id})
    return sum(amount for _, amount in held)


def reserved_by(session: Session, session_id: str) -> int:
    return int(
        session.execute(
            select(func.coalesce(func.sum(QuotaReservation.bytes), 0)).where(
                QuotaReservation.session_id == session_id
            )
        ).scalar_one()
    )
