"""usage: sessions, reservations, records, imports, credit control, reminders, network elements

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 13:55:53.595578
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_control_answers",
        sa.Column("session_id", sa.String(length=120), nullable=False),
        sa.Column("request_number", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "session_id", "request_number", name=op.f("pk_credit_control_answers")
        ),
    )
    op.create_table(
        "imported_usage_records",
        sa.Column("record_id", sa.String(length=120), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_imported_usage_records")),
    )
    op.create_table(
        "network_elements",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_network_elements")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_network_elements_key_hash")),
        sa.UniqueConstraint("name", name=op.f("uq_network_elements_name")),
    )
    op.create_table(
        "radius_clients",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_radius_clients")),
    )
    op.create_table(
        "usage_sessions",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("nas_address", sa.String(length=64), nullable=True),
        sa.Column("reported_bytes", sa.BigInteger(), nullable=False),
        sa.Column("charged_bytes", sa.BigInteger(), nullable=False),
        sa.Column("last_request_number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reservation_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_usage_sessions_card_id_cards")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_sessions")),
    )
    with op.batch_alter_table("usage_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_sessions_card_id"), ["card_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_usage_sessions_reservation_expires_at"),
            ["reservation_expires_at"],
            unique=False,
        )

    op.create_table(
        "quota_reservations",
        sa.Column("session_id", sa.String(length=120), nullable=False),
        sa.Column(
            "package_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"], ["packages.id"], name=op.f("fk_quota_reservations_package_id_packages")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["usage_sessions.id"],
            name=op.f("fk_quota_reservations_session_id_usage_sessions"),
        ),
        sa.PrimaryKeyConstraint("session_id", "package_id", name=op.f("pk_quota_reservations")),
    )
    op.create_table(
        "reminders_sent",
        sa.Column(
            "package_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["package_id"], ["packages.id"], name=op.f("fk_reminders_sent_package_id_packages")
        ),
        sa.PrimaryKeyConstraint("package_id", "kind", "period_end", name=op.f("pk_reminders_sent")),
    )
    op.create_table(
        "usage_records",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "package_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("session_id", sa.String(length=120), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("uncharged_bytes", sa.BigInteger(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["cards.id"], name=op.f("fk_usage_records_card_id_cards")
        ),
        sa.ForeignKeyConstraint(
            ["package_id"], ["packages.id"], name=op.f("fk_usage_records_package_id_packages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
    )
    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_usage_records_card_id"), ["card_id"], unique=False)
        batch_op.create_index(
            "ix_usage_records_package_day", ["package_id", "recorded_at"], unique=False
        )

    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.create_index("ix_packages_expiry", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("packages", schema=None) as batch_op:
        batch_op.drop_index("ix_packages_expiry")

    with op.batch_alter_table("usage_records", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_records_package_day")
        batch_op.drop_index(batch_op.f("ix_usage_records_card_id"))

    op.drop_table("usage_records")
    op.drop_table("reminders_sent")
    op.drop_table("quota_reservations")
    with op.batch_alter_table("usage_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_usage_sessions_reservation_expires_at"))
        batch_op.drop_index(batch_op.f("ix_usage_sessions_card_id"))

    op.drop_table("usage_sessions")
    op.drop_table("radius_clients")
    op.drop_table("network_elements")
    op.drop_table("imported_usage_records")
    op.drop_table("credit_control_answers")
