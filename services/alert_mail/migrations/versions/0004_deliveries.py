"""deliveries and rendered outgoing messages

Revision ID: alert_mail_0004
Revises: alert_mail_0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import JSONType, UTCDateTime

revision: str = "alert_mail_0004"
down_revision: str | None = "alert_mail_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outgoing_messages",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(998), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("html", sa.Text),
        sa.Column("headers", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "deliveries",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("alert_id", sa.String(64), sa.ForeignKey("alerts.id")),
        sa.Column("subscription_id", sa.String(64), sa.ForeignKey("subscriptions.id")),
        sa.Column("message_id", sa.String(64), sa.ForeignKey("outgoing_messages.id")),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("lease_until", UTCDateTime()),
        sa.Column("worker", sa.String(64)),
        sa.Column("last_code", sa.Integer),
        sa.Column("last_detail", sa.String(500)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("delivered_at", UTCDateTime()),
        sa.UniqueConstraint("alert_id", "subscription_id", name="uq_deliveries_alert_subscription"),
    )
    in_flight = sa.text("status = 'sending'")
    op.create_index(
        "ix_deliveries_leases",
        "deliveries",
        ["lease_until"],
        sqlite_where=in_flight,
        postgresql_where=in_flight,
    )
    op.create_index("ix_deliveries_alert_status", "deliveries", ["alert_id", "status"])
    queue = sa.text("status IN ('created', 'temporary-failure')")
    op.create_index(
        "ix_deliveries_queue",
        "deliveries",
        ["priority", "next_attempt_at", "id"],
        sqlite_where=queue,
        postgresql_where=queue,
    )
    op.create_index("ix_deliveries_subscription_id", "deliveries", ["subscription_id"])
    op.create_index("ix_deliveries_message_id", "deliveries", ["message_id"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("outgoing_messages")
