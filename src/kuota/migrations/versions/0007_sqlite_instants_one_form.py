"""SQLite: instants written by the grouped writes get the one text form

On SQLite an instant is text, compared as text. Every write stores it as
``YYYY-MM-DD HH:MM:SS.ffffff`` (UTC), except the grouped writes of credit control
and RADIUS accounting before this release, which stored ``…+00:00`` (and no
fraction when it was zero). This rewrites those values into the one form, so the
same instant compares equal whichever path wrote it. PostgreSQL keeps instants as
``timestamptz``: nothing to do there.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 00:20:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The columns the grouped writes (core.db.run_many) filled.
COLUMNS = (
    ("credit_control_answers", "created_at"),
    ("usage_records", "recorded_at"),
    ("usage_sessions", "started_at"),
    ("usage_sessions", "updated_at"),
    ("usage_sessions", "reservation_expires_at"),
)
WITH_FRACTION = "____-__-__ __:__:__.______+00:00"
WHOLE_SECOND = "____-__-__ __:__:__+00:00"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table, column in COLUMNS:
        op.execute(
            f"UPDATE {table} SET {column} = substr({column}, 1, 26) "
            f"WHERE {column} LIKE '{WITH_FRACTION}'"
        )
        op.execute(
            f"UPDATE {table} SET {column} = substr({column}, 1, 19) || '.000000' "
            f"WHERE {column} LIKE '{WHOLE_SECOND}'"
        )


def downgrade() -> None:
    """Nothing to undo: the one form is what the older code reads and writes too."""
