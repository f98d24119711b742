"""subscription history: one row per status change

Revision ID: alert_mail_0007
Revises: alert_mail_0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import UTCDateTime

revision: str = "alert_mail_0007"
down_revision: str | None = "alert_mail_0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscription_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "subscription_id",
            sa.String(64),
            sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("transition", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16)),
        sa.Column("to_state", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(255)),
        sa.Column("note", sa.String(500)),
    )
    op.create_index(
        "ix_subscription_events_subscription", "subscription_events", ["subscription_id", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_subscription_events_subscription", table_name="subscription_events")
    op.drop_table("subscription_events")
