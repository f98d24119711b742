"""payments, their codes, history and refunds; webhook endpoints, deliveries and attempts

Revision ID: payments_mock_0002
Revises: payments_mock_0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import JSONType, UTCDateTime

revision: str = "payments_mock_0002"
down_revision: str | None = "payments_mock_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payments",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount_refunded", sa.Integer, nullable=False),
        sa.Column("description", sa.String(64), nullable=False),
        sa.Column("payer_name", sa.String(200)),
        sa.Column("payer_email", sa.String(254)),
        sa.Column("payer_phone", sa.String(32)),
        sa.Column("reference", sa.String(255), index=True),
        sa.Column("metadata", JSONType, nullable=False),
        sa.Column("barcode", sa.String(44), unique=True),
        sa.Column("paid_via", sa.String(32)),
        sa.Column("card_brand", sa.String(16)),
        sa.Column("card_last4", sa.String(4)),
        sa.Column("card_error", JSONType),
        sa.Column("late", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("paid_at", UTCDateTime()),
        sa.Column("received_at", UTCDateTime()),
        sa.Column("settles_at", UTCDateTime()),
        sa.Column("settled_at", UTCDateTime()),
        sa.Column("expired_at", UTCDateTime()),
        sa.Column("canceled_at", UTCDateTime()),
    )
    op.create_index("ix_payments_owner_id", "payments", ["owner", "id"])
    op.create_index("ix_payments_status_expires", "payments", ["status", "expires_at"])
    op.create_index("ix_payments_status_settles", "payments", ["status", "settles_at"])
    op.create_table(
        "payment_codes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "payment_id", sa.String(64), sa.ForeignKey("payments.id"), nullable=False, index=True
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("confirmation", sa.String(16)),
        sa.UniqueConstraint("kind", "code", name="uq_payment_codes_kind_code"),
    )
    op.create_table(
        "payment_events",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "payment_id", sa.String(64), sa.ForeignKey("payments.id"), nullable=False, index=True
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("transition", sa.String(32)),
        sa.Column("from_status", sa.String(32)),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(255)),
        sa.Column("data", JSONType, nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("payment_id", "seq", name="uq_payment_events_seq"),
    )
    op.create_table(
        "refunds",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "payment_id", sa.String(64), sa.ForeignKey("payments.id"), nullable=False, index=True
        ),
        sa.Column("amount", sa.Integer, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("completes_at", UTCDateTime(), nullable=False, index=True),
        sa.Column("completed_at", UTCDateTime()),
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("owner", sa.String(255), nullable=False, index=True),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("event_types", JSONType, nullable=False),
        sa.Column("description", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("previous_secret", sa.String(128)),
        sa.Column("previous_secret_expires_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "endpoint_id", sa.String(64), sa.ForeignKey("webhook_endpoints.id"), nullable=False
        ),
        sa.Column("event_id", sa.String(64), nullable=False, index=True),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", JSONType, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime()),
    )
    op.create_index(
        "ix_webhook_deliveries_endpoint_id", "webhook_deliveries", ["endpoint_id", "id"]
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "delivery_id",
            sa.String(64),
            sa.ForeignKey("webhook_deliveries.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("attempted_at", UTCDateTime(), nullable=False),
        sa.Column("status_code", sa.Integer),
        sa.Column("latency_ms", sa.Float, nullable=False),
        sa.Column("error", sa.Text),
        sa.Column("succeeded", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "webhook_attempts",
        "webhook_deliveries",
        "webhook_endpoints",
        "refunds",
        "payment_events",
        "payment_codes",
        "payments",
    ):
        op.drop_table(table)
