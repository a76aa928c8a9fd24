"""Packages on a card: landing a purchase on them, and reading what is left."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from kuota.usage.models import Package
from kuota.usage.rules import Extend, PackageView, apply_purchase


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
) -> int:
    """Land a bought plan on the card per the renewal rules; returns the package's id.

    The caller holds the card's row lock, so two purchases for one card never
    both decide to start a package."""
    views = [
        PackageView(p.id, p.plan_code, p.quota_total_bytes, p.quota_used_bytes, p.expires_at)
        for p in active_packages(session, card_id, now)
        if p.plan_code == plan_code
    ]
    decision = apply_purchase(
        views, plan_code=plan_code, data_bytes=data_bytes, validity_days=validity_days, now=now
    )
    if isinstance(decision, Extend):
        session.execute(
            update(Package)
            .where(Package.id == decision.package_id)
            .values(
                quota_total_bytes=Package.quota_total_bytes + decision.add_bytes,
                expires_at=decision.new_expires_at,
            )
        )
        return decision.package_id
    new_id = session.execute(
        insert(Package)
        .values(
            card_id=card_id,
            plan_code=plan_code,
            plan_version_id=plan_version_id,
            quota_total_bytes=decision.quota_bytes,
            quota_used_bytes=0,
            quota_reserved_bytes=0,
            starts_at=decision.starts_at,
            expires_at=decision.expires_at,
            created_at=now,
        )
        .returning(Package.id)
    ).scalar_one()
    return int(new_id)


def package_view(package: Package) -> dict[str, object]:
    return {
        "id": package.id,
        "plan_code": package.plan_code,
        "quota_total_bytes": package.quota_total_bytes,
        "quota_remaining_bytes": package.quota_total_bytes - package.quota_used_bytes,
        "quota_reserved_bytes": package.quota_reserved_bytes,
        "starts_at": package.starts_at,
        "expires_at": package.expires_at,
    }
