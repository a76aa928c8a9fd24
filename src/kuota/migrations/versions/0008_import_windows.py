"""usage imports claim a window's record ids first, then charge its cards

An import used to claim each transaction's record ids with its charges. Those ids lie
scattered over the window's part of the claims index, so every transaction rewrote
most of that part: on SQLite two thirds of the import's time. Now a window's ids are
claimed in one sorted insert (`import_windows` names the window), each charging
transaction notes the cards it charged (`import_window_cards`), and a window whose run
stopped is set right by the next import: its claims of cards not charged are given
back. Claims keep their card and window for that; older claims have neither.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 04:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("imported_usage_records", sa.Column("card_id", sa.BigInteger(), nullable=True))
    op.add_column("imported_usage_records", sa.Column("window_id", sa.BigInteger(), nullable=True))
    op.create_index("ix_imported_usage_records_window_id", "imported_usage_records", ["window_id"])
    op.create_table(
        "import_windows",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_windows")),
        sqlite_autoincrement=True,  # ids never reused: claims keep theirs
    )
    op.create_table(
        "import_window_cards",
        sa.Column("window_id", sa.BigInteger(), nullable=False),
        sa.Column("card_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("window_id", "card_id", name=op.f("pk_import_window_cards")),
    )


def downgrade() -> None:
    op.drop_table("import_window_cards")
    op.drop_table("import_windows")
    op.drop_index("ix_imported_usage_records_window_id", "imported_usage_records")
    with op.batch_alter_table("imported_usage_records") as batch:
        batch.drop_column("window_id")
        batch.drop_column("card_id")
