"""alerts and their transition history

Revision ID: alert_mail_0003
Revises: alert_mail_0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import JSONType, UTCDateTime

revision: str = "alert_mail_0003"
down_revision: str | None = "alert_mail_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("msg_type", sa.String(8), nullable=False),
        sa.Column("references_id", sa.String(64), sa.ForeignKey("alerts.id")),
        sa.Column("category", sa.String(64), sa.ForeignKey("categories.code"), nullable=False),
        sa.Column("districts", JSONType, nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("urgency", sa.String(16), nullable=False),
        sa.Column("certainty", sa.String(16), nullable=False),
        sa.Column("content", JSONType, nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("emergency", sa.Boolean, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("submitted_by", sa.String(255)),
        sa.Column("approved_by", sa.String(255)),
        sa.Column("recipients", sa.Integer, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("completed_at", UTCDateTime()),
        sa.Column("superseded_by", sa.String(64)),
        sa.Column("cancelled_at", UTCDateTime()),
    )
    op.create_index("ix_alerts_status_sent", "alerts", ["status", "sent_at"])
    op.create_index("ix_alerts_fingerprint", "alerts", ["fingerprint", "sent_at"])
    op.create_table(
        "alert_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.String(64), sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("transition", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(16)),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(255)),
        sa.Column("note", sa.String(1000)),
        sa.Column("at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_alert_events_alert_id", "alert_events", ["alert_id"])


def downgrade() -> None:
    op.drop_table("alert_events")
    op.drop_table("alerts")
