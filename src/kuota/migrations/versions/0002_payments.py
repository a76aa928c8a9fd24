"""payments state machine, webhooks, top-ups, sandbox gateway

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 13:37:25.593177
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_orders",
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("transaction_id", sa.String(length=40), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("return_url", sa.String(length=500), nullable=False),
        sa.Column("qr_payload", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_sandbox_orders")),
        sa.UniqueConstraint("transaction_id", name=op.f("uq_sandbox_orders_transaction_id")),
    )
    op.create_table(
        "sandbox_webhooks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.String(length=60), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("deliver_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_webhooks")),
    )
    with op.batch_alter_table("sandbox_webhooks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_sandbox_webhooks_due", ["delivered_at", "deliver_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_sandbox_webhooks_order_id"), ["order_id"], unique=False
        )

    op.create_table(
        "webhook_receipts",
        sa.Column("provider", sa.String(length=20), nullable=False),
        sa.Column("event_id", sa.String(length=120), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", "event_id", name=op.f("pk_webhook_receipts")),
    )
    op.create_table(
        "payment_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("payment_id", sa.String(length=32), nullable=False),
        sa.Column("from_status", sa.String(length=12), nullable=True),
        sa.Column("to_status", sa.String(length=12), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_payment_events_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_events")),
    )
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_payment_events_payment_id"), ["payment_id"], unique=False
        )

    op.create_table(
        "top_ups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("card_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("payment_id", sa.String(length=32), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("credited_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["card_id"], ["cards.id"], name=op.f("fk_top_ups_card_id_cards")),
        sa.ForeignKeyConstraint(
            ["payment_id"], ["payments.id"], name=op.f("fk_top_ups_payment_id_payments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_top_ups")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_top_ups_payment_id")),
    )
    with op.batch_alter_table("top_ups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_top_ups_card_id"), ["card_id"], unique=False)

    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=10), nullable=False, server_default="renewal")
        )
        batch_op.add_column(sa.Column("checkout_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("qr_payload", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("check_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("refund_due", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("refund_reference", sa.String(length=80), nullable=True))
        batch_op.create_index("ix_payments_status_check", ["status", "next_check_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_status_check")
        batch_op.drop_column("refund_reference")
        batch_op.drop_column("refund_due")
        batch_op.drop_column("check_attempts")
        batch_op.drop_column("next_check_at")
        batch_op.drop_column("expires_at")
        batch_op.drop_column("qr_payload")
        batch_op.drop_column("checkout_url")
        batch_op.drop_column("purpose")

    with op.batch_alter_table("top_ups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_top_ups_card_id"))

    op.drop_table("top_ups")
    with op.batch_alter_table("payment_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payment_events_payment_id"))

    op.drop_table("payment_events")
    op.drop_table("webhook_receipts")
    with op.batch_alter_table("sandbox_webhooks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sandbox_webhooks_order_id"))
        batch_op.drop_index("ix_sandbox_webhooks_due")

    op.drop_table("sandbox_webhooks")
    op.drop_table("sandbox_orders")
