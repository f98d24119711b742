"""templates and notifications

Revision ID: alert_mail_0005
Revises: alert_mail_0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import JSONType, UTCDateTime

revision: str = "alert_mail_0005"
down_revision: str | None = "alert_mail_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_templates",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(1000)),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("archived_at", UTCDateTime()),
    )
    op.create_table(
        "notification_template_versions",
        sa.Column(
            "template_id",
            sa.String(64),
            sa.ForeignKey("notification_templates.id"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("client", sa.String(255), nullable=False),
        sa.Column(
            "template_id",
            sa.String(64),
            sa.ForeignKey("notification_templates.id"),
            nullable=False,
        ),
        sa.Column("template_version", sa.Integer, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("personalisation", JSONType, nullable=False),
        sa.Column("reference", sa.String(255)),
        sa.Column(
            "delivery_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.ForeignKey("deliveries.id"),
            nullable=False,
            unique=True,
        ),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_notifications_client_id", "notifications", ["client", "id"])
    op.create_index("ix_notifications_client_reference", "notifications", ["client", "reference"])
    op.create_index("ix_notifications_template_id", "notifications", ["template_id"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("notification_template_versions")
    op.drop_table("notification_templates")
