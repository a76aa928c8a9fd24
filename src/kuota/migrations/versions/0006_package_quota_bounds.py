"""the database checks a package's quota bounds

Charging runs in memory and writes deltas (`usage.charging.QuotaBook`); the database
refuses any write that would leave a package with used bytes below 0 or above its
total, or a negative reservation, so a broken rule fails its transaction instead of
spending what the card does not have. PostgreSQL: a CHECK constraint. SQLite cannot
add one to an existing table without copying it, so triggers do the same there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 19:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BOUNDS = (
    "quota_used_bytes >= 0 AND quota_used_bytes <= quota_total_bytes AND quota_reserved_bytes >= 0"
)
OUT_OF_BOUNDS = (
    "NEW.quota_used_bytes < 0 OR NEW.quota_used_bytes > NEW.quota_total_bytes "
    "OR NEW.quota_reserved_bytes < 0"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for event, name in (("INSERT", "insert"), ("UPDATE", "update")):
            op.execute(
                f"CREATE TRIGGER ck_packages_quota_bounds_{name} BEFORE {event} ON packages "
                f"WHEN {OUT_OF_BOUNDS} BEGIN "
                "SELECT RAISE(ABORT, 'CHECK constraint failed: ck_packages_quota_bounds'); END"
            )
    else:
        op.create_check_constraint(op.f("ck_packages_quota_bounds"), "packages", BOUNDS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "update"):
            op.execute(f"DROP TRIGGER ck_packages_quota_bounds_{name}")
    else:
        op.drop_constraint("ck_packages_quota_bounds", "packages", type_="check")
