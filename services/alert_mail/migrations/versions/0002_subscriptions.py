"""subscriptions with their categories and districts

Revision ID: alert_mail_0002
Revises: alert_mail_0001
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import UTCDateTime

revision: str = "alert_mail_0002"
down_revision: str | None = "alert_mail_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("plain_japanese", sa.Boolean, nullable=False),
        sa.Column("owner", sa.String(255), index=True),
        sa.Column("hard_bounces", sa.Integer, nullable=False),
        sa.Column("link_version", sa.Integer, nullable=False),
        sa.Column("confirmation_jti", sa.String(64)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime()),
        sa.Column("suspended_at", UTCDateTime()),
        sa.Column("unsubscribed_at", UTCDateTime()),
    )
    op.create_index("ix_subscriptions_status", "subscriptions", ["status"])
    for table, column, target in (
        ("subscription_categories", "category", "categories.code"),
        ("subscription_districts", "district", "districts.code"),
    ):
        op.create_table(
            table,
            sa.Column(
                "subscription_id",
                sa.String(64),
                sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
                primary_key=True,
            ),
            sa.Column(column, sa.String(64), sa.ForeignKey(target), primary_key=True),
        )
        op.create_index(f"ix_{table}_{column}", table, [column, "subscription_id"])
    op.create_table(
        "confirmation_sends",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("address_digest", sa.String(64), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=False, index=True),
    )
    op.create_index(
        "ix_confirmation_sends_address", "confirmation_sends", ["address_digest", "sent_at"]
    )


def downgrade() -> None:
    op.drop_table("confirmation_sends")
    op.drop_table("subscription_districts")
    op.drop_table("subscription_categories")
    op.drop_table("subscriptions")
