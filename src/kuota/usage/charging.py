"""Charging data use against a card's packages, and reserving quota for open sessions.

The rules (PRODUCT.md): usage draws from the active package that expires first; a
package's used bytes never exceed its total; quota granted to an open credit-control
session is reserved, so two sessions of one card can never together be granted
more than the card has. Bytes reported beyond what is left are recorded as
uncharged, never charged: the card cannot go below zero.

The rules run in memory, on a `QuotaBook`: the packages of some cards and the
reservations of some sessions, read once under the cards' row locks, changed by any
number of charges, grants and releases, and written back once (`save`): one
statement per table however many requests a group commit holds. The caller takes
the cards' locks first (`usage.network` does, in one `SELECT … FOR UPDATE` in
card-number order on PostgreSQL; SQLite writers are serial), so nothing else changes
those rows between the read and the write. The package writes are deltas and the
database checks the bounds again (`quota_used_bytes` within 0..total, reservations
never negative; migration 0006), so a broken rule fails the transaction instead of
spending what the card has not.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from kuota.core.db import fetch_rows, run_many, table_of
from kuota.core.errors import InvalidInput
from kuota.core.sql import in_list
from kuota.usage.models import Package, QuotaReservation, UsageRecord

_PACKAGE_COLUMNS = (
    Package.id,
    Package.card_id,
    Package.quota_total_bytes,
    Package.quota_used_bytes,
    Package.quota_reserved_bytes,
    Package.expires_at,
)
_ACTIVE = (
    select(*_PACKAGE_COLUMNS)
    .where(in_list(Package.card_id, "card_ids"))
    .where(Package.expires_at > bindparam("now"))
    .order_by(Package.expires_at, Package.id)
)
# Packages a loaded reservation holds quota on may have expired since: they are read
# too, so releasing the reservation gives their quota back.
_ACTIVE_OR_HELD = (
    select(*_PACKAGE_COLUMNS)
    .where(
        or_(
            in_list(Package.card_id, "card_ids") & (Package.expires_at > bindparam("now")),
            in_list(Package.id, "held_ids"),
        )
    )
    .order_by(Package.expires_at, Package.id)
)
_HELD = select(
    QuotaReservation.session_id, QuotaReservation.package_id, QuotaReservation.bytes
).where(in_list(QuotaReservation.session_id, "keys"))
_MOVE = (
    update(Package)
    .where(Package.id == bindparam("w_id"))
    .values(
        quota_used_bytes=Package.quota_used_bytes + bindparam("d_used"),
        quota_reserved_bytes=Package.quota_reserved_bytes + bindparam("d_reserved"),
    )
)
_HOLD = insert(table_of(QuotaReservation))
_REHOLD = (
    update(QuotaReservation)
    .where(
        QuotaReservation.session_id == bindparam("w_session"),
        QuotaReservation.package_id == bindparam("w_package"),
    )
    .values(bytes=bindparam("bytes"))
)
_UNHOLD = delete(table_of(QuotaReservation)).where(
    QuotaReservation.session_id == bindparam("w_session"),
    QuotaReservation.package_id == bindparam("w_package"),
)
_RECORD = insert(table_of(UsageRecord))


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


@dataclass(slots=True)
class _Package:
    id: int
    card_id: int
    total: int
    used: int
    reserved: int
    expires_at: datetime
    used_before: int = 0
    reserved_before: int = 0


@dataclass(slots=True)
class QuotaBook:
    """The quota of some cards and the reservations of some sessions, in memory.

    Read it with `load`, under the cards' locks; change it with `charge`, `reserve` and
    `release`; write it back with `save` in the same transaction."""

    now: datetime
    _active: dict[int, list[_Package]] = field(default_factory=dict)  # card → draw order
    _packages: dict[int, _Package] = field(default_factory=dict)
    _held: dict[str, dict[int, int]] = field(default_factory=dict)  # session → package → bytes
    _held_before: dict[str, dict[int, int]] = field(default_factory=dict)  # as stored
    _released: set[str] = field(default_factory=set)  # sessions whose holds may have changed
    _records: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(
        cls,
        session: Session,
        card_ids: Collection[int],
        now: datetime,
        session_keys: Collection[str] = (),
    ) -> QuotaBook:
        book = cls(now)
        if session_keys:
            for key, package_id, amount in fetch_rows(session, _HELD, {"keys": list(session_keys)}):
                book._held.setdefault(key, {})[package_id] = int(amount)
        held_ids = {p for held in book._held.values() for p in held}
        if held_ids:
            rows = fetch_rows(
                session,
                _ACTIVE_OR_HELD,
                {"card_ids": list(card_ids), "now": now, "held_ids": list(held_ids)},
            )
        else:
            rows = fetch_rows(session, _ACTIVE, {"card_ids": list(card_ids), "now": now})
        for package_id, card_id, total, used, reserved, expires_at in rows:
            used, reserved = int(used), int(reserved)
            package = _Package(package_id, card_id, int(total), used, reserved, expires_at)
            package.used_before, package.reserved_before = used, reserved
            book._packages[package.id] = package
            if package.expires_at > now:
                book._active.setdefault(package.card_id, []).append(package)
        for key in session_keys:
            book._held.setdefault(key, {})
        book._held_before = {key: dict(held) for key, held in book._held.items()}
        return book

    def quota(self, card_id: int) -> Quota:
        packages = self._active.get(card_id, ())
        return Quota(
            remaining=sum(p.total - p.used for p in packages),
            reserved=sum(p.reserved for p in packages),
            earliest_expiry=min((p.expires_at for p in packages if p.total > p.used), default=None),
        )

    def has_packages(self, card_id: int) -> bool:
        return bool(self._active.get(card_id))

    def charge(
        self, card_id: int, used_bytes: int, *, source: str, session_id: str | None = None
    ) -> Charge:
        """Charge `used_bytes` to the card's active packages, earliest expiry first: first
        from quota nobody holds, then, if that is not enough, from quota reserved for
        other sessions (they are then granted less). A session's own reservation must be
        released first: it is the session's use that is being reported."""
        if used_bytes < 0:
            raise InvalidInput("used bytes cannot be negative", field="used_bytes")
        packages = self._active.get(card_id, [])
        need = used_bytes
        if need:
            for unreserved_only in (True, False):
                for package in packages:
                    headroom = package.total - package.used
                    if unreserved_only:
                        headroom -= package.reserved
                    take = min(need, headroom)
                    if take <= 0:
                        continue
                    package.used += take
                    need -= take
                    self._record(card_id, package.id, take, 0, source, session_id)
                    if need == 0:
                        break
                if need == 0:
                    break
            if need:
                self._record(card_id, None, 0, need, source, session_id)
        available = sum(p.total - p.used - p.reserved for p in packages)
        return Charge(used_bytes - need, need, available)

    def reserve(self, card_id: int, session_key: str, wanted: int) -> int:
        """Reserve up to `wanted` bytes for a session, from packages in draw order; returns
        what was granted (0 when nothing is left)."""
        granted = 0
        if wanted <= 0:
            return 0
        held = self._held_by(session_key)
        for package in self._active.get(card_id, ()):
            take = min(wanted - granted, package.total - package.used - package.reserved)
            if take <= 0:
                continue
            package.reserved += take
            held[package.id] = held.get(package.id, 0) + take
            granted += take
            if granted == wanted:
                break
        return granted

    def release(self, session_key: str) -> int:
        """Give a session's reserved quota back; returns how much was released."""
        held = self._held_by(session_key)
        released = 0
        for package_id, amount in held.items():
            self._packages[package_id].reserved -= amount
            released += amount
        held.clear()
        return released

    def _held_by(self, session_key: str) -> dict[int, int]:
        if session_key not in self._held:
            raise RuntimeError(f"reservations of {session_key!r} were not loaded")
        self._released.add(session_key)
        return self._held[session_key]

    def _record(
        self,
        card_id: int,
        package_id: int | None,
        charged: int,
        uncharged: int,
        source: str,
        session_id: str | None,
    ) -> None:
        self._records.append(
            {
                "card_id": card_id,
                "package_id": package_id,
                "session_id": session_id,
                "source": source,
                "bytes": charged,
                "uncharged_bytes": uncharged,
                "recorded_at": self.now,
            }
        )

    def save(self, session: Session) -> None:
        """Write what changed: one statement per table."""
        moves = [
            {
                "w_id": p.id,
                "d_used": p.used - p.used_before,
                "d_reserved": p.reserved - p.reserved_before,
            }
            for p in self._packages.values()
            if p.used != p.used_before or p.reserved != p.reserved_before
        ]
        if moves:
            run_many(session, _MOVE, moves)
        # Reservations as rows: only those that changed. A session re-granted the same
        # slice from the same package (the usual update) writes none.
        new, changed, gone = [], [], []
        for key in sorted(self._released):
            before = self._held_before.get(key, {})
            after = {package_id: amount for package_id, amount in self._held[key].items() if amount}
            for package_id, amount in after.items():
                if package_id not in before:
                    new.append({"session_id": key, "package_id": package_id, "bytes": amount})
                elif before[package_id] != amount:
                    changed.append({"bytes": amount, "w_session": key, "w_package": package_id})
            gone += [
                {"w_session": key, "w_package": package_id}
                for package_id in before
                if package_id not in after
            ]
            self._held_before[key] = after
        run_many(session, _UNHOLD, gone)
        run_many(session, _REHOLD, changed)
        run_many(session, _HOLD, new)
        if self._records:
            run_many(session, _RECORD, self._records)
        for p in self._packages.values():
            p.used_before, p.reserved_before = p.used, p.reserved
        self._released.clear()
        self._records = []


def quota_of(session: Session, card_id: int, now: datetime) -> Quota:
    return QuotaBook.load(session, [card_id], now).quota(card_id)
