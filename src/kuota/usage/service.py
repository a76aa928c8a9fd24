"""Packages on a card: landing a purchase on them, and reading what is left."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from kuota.core.db import run, table_of
from kuota.core.localtime import zone
from kuota.usage.models import Package, UsageRecord
from kuota.usage.rules import Extend, PackageView, apply_purchase

# Every sale lands on packages: these statements are built once, not per call.
_ACTIVE_OF_PLAN = select(
    Package.id,
    Package.plan_code,
    Package.quota_total_bytes,
    Package.quota_used_bytes,
    Package.quota_reserved_bytes,
    Package.starts_at,
    Package.expires_at,
).where(
    Package.card_id == bindparam("card_id"),
    Package.plan_code == bindparam("plan_code"),
    Package.expires_at > bindparam("now"),
)
_EXTEND = (
    update(Package)
    .where(Package.id == bindparam("w_id"))
    .values(
        quota_total_bytes=Package.quota_total_bytes + bindparam("add_bytes"),
        expires_at=bindparam("new_expires_at"),
    )
)
_START = insert(table_of(Package)).returning(Package.id)


def active_packages(session: Session, card_id: int, now: datetime) -> list[Package]:
    return list(
        session.execute(
            select(Package)
            .where(Package.card_id == card_id, Package.expires_at > now)
            .order_by(Package.expires_at, Package.id)
        )
        .scalars()
        .all()
    )


def add_purchase(
    session: Session,
    *,
    card_id: int,
    plan_code: str,
    plan_version_id: int,
    data_bytes: int,
    validity_days: int,
    now: datetime,
) -> dict[str, Any]:
    """Land a bought plan on the card per the renewal rules; returns the package as it
    now stands (`package_view`).

    The caller holds the card's row lock, so two purchases for one card never
    both decide to start a package."""
    rows = run(
        session, _ACTIVE_OF_PLAN, {"card_id": card_id, "plan_code": plan_code, "now": now}
    ).all()
    views = [
        PackageView(r.id, r.plan_code, r.quota_total_bytes, r.quota_used_bytes, r.expires_at)
        for r in rows
    ]
    decision = apply_purchase(
        views, plan_code=plan_code, data_bytes=data_bytes, validity_days=validity_days, now=now
    )
    if isinstance(decision, Extend):
        run(
            session,
            _EXTEND,
            {
                "w_id": decision.package_id,
                "add_bytes": decision.add_bytes,
                "new_expires_at": decision.new_expires_at,
            },
        )
        extended = next(r for r in rows if r.id == decision.package_id)
        return {
            "id": extended.id,
            "plan_code": plan_code,
            "quota_total_bytes": extended.quota_total_bytes + decision.add_bytes,
            "quota_remaining_bytes": extended.quota_total_bytes
            + decision.add_bytes
            - extended.quota_used_bytes,
            "quota_reserved_bytes": extended.quota_reserved_bytes,
            "starts_at": extended.starts_at,
            "expires_at": decision.new_expires_at,
        }
    new_id = run(
        session,
        _START,
        {
            "card_id": card_id,
            "plan_code": plan_code,
            "plan_version_id": plan_version_id,
            "quota_total_bytes": decision.quota_bytes,
            "quota_used_bytes": 0,
            "quota_reserved_bytes": 0,
            "starts_at": decision.starts_at,
            "expires_at": decision.expires_at,
            "created_at": now,
        },
    ).scalar_one()
    return {
        "id": int(new_id),
        "plan_code": plan_code,
        "quota_total_bytes": decision.quota_bytes,
        "quota_remaining_bytes": decision.quota_bytes,
        "quota_reserved_bytes": 0,
        "starts_at": decision.starts_at,
        "expires_at": decision.expires_at,
    }


def package_view(package: Package) -> dict[str, Any]:
    return {
        "id": package.id,
        "plan_code": package.plan_code,
        "quota_total_bytes": package.quota_total_bytes,
        "quota_remaining_bytes": package.quota_total_bytes - package.quota_used_bytes,
        "quota_reserved_bytes": package.quota_reserved_bytes,
        "starts_at": package.starts_at,
        "expires_at": package.expires_at,
    }


def daily_usage(
    session: Session, card_id: int, *, since: datetime, zone_name: str
) -> list[dict[str, Any]]:
    """Bytes used per package per day (days in the operator's zone), oldest first."""
    rows = session.execute(
        select(
            UsageRecord.package_id, UsageRecord.bytes, UsageRecord.recorded_at, Package.plan_code
        )
        .join(Package, Package.id == UsageRecord.package_id)
        .where(UsageRecord.card_id == card_id, UsageRecord.recorded_at >= since)
    ).all()
    local = zone(zone_name)
    totals: dict[tuple[int, str, str], int] = {}
    for package_id, used, recorded_at, plan_code in rows:
        day = recorded_at.astimezone(local).date().isoformat()
        key = (int(package_id or 0), plan_code, day)
        totals[key] = totals.get(key, 0) + int(used)
    return [
        {"package_id": package_id, "plan_code": plan_code, "day": day, "bytes": used}
        for (package_id, plan_code, day), used in sorted(
            totals.items(), key=lambda kv: (kv[0][2], kv[0][0])
        )
    ]
