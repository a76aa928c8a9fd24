"""PRODUCT.md's renewal rules for packages, as pure functions.

- Same plan while its package is active: expiry moves out by the plan's
  validity from the current expiry, and the plan's quota adds to what is left.
- Another plan: a separate package.
- After expiry: a new package starting now.
- A package lasts validity_days × 24 hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

# No session moves more than this between two reports (10 TB): a larger figure is a
# broken counter, refused rather than charged.
MAX_REPORT_BYTES = 10**13
# A session's running total as counted (BIGINT, with room to add a report): 4.6 EB, far
# past anything a session moves. RADIUS counters can claim up to 2^65 bytes; more than
# this is a broken or hostile counter, acknowledged and not charged.
MAX_SESSION_TOTAL_BYTES = 2**62


@dataclass(frozen=True, slots=True)
class PackageView:
    id: int
    plan_code: str
    quota_total_bytes: int
    quota_used_bytes: int
    expires_at: datetime

    def is_active(self, now: datetime) -> bool:
        return self.expires_at > now


@dataclass(frozen=True, slots=True)
class Extend:
    package_id: int
    add_bytes: int
    new_expires_at: datetime


@dataclass(frozen=True, slots=True)
class StartNew:
    plan_code: str
    quota_bytes: int
    starts_at: datetime
    expires_at: datetime


def validity(days: int) -> timedelta:
    return timedelta(hours=24 * days)


def apply_purchase(
    packages: list[PackageView],
    *,
    plan_code: str,
    data_bytes: int,
    validity_days: int,
    now: datetime,
) -> Extend | StartNew:
    """Decide how a purchase lands: extend the active package of the same plan, or start one."""
    same_plan_active = [p for p in packages if p.plan_code == plan_code and p.is_active(now)]
    if same_plan_active:
        # Two active packages of one plan cannot arise through this rule; if imported
        # data has them, extend the one that lasts longest so nothing is shortened.
        target = max(same_plan_active, key=lambda p: (p.expires_at, p.id))
        return Extend(
            package_id=target.id,
            add_bytes=data_bytes,
            new_expires_at=target.expires_at + validity(validity_days),
        )
    return StartNew(
        plan_code=plan_code,
        quota_bytes=data_bytes,
        starts_at=now,
        expires_at=now + validity(validity_days),
    )


def draw_order(packages: list[PackageView], now: datetime) -> list[PackageView]:
    """Usage draws from the active package that expires first."""
    return sorted((p for p in packages if p.is_active(now)), key=lambda p: (p.expires_at, p.id))
