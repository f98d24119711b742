"""staff groups and call-ups

Revision ID: alert_mail_0006
Revises: alert_mail_0005
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import UTCDateTime

revision: str = "alert_mail_0006"
down_revision: str | None = "alert_mail_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "staff_groups",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("code", sa.String(64), nullable=False, unique=True),
        sa.Column("name_ja", sa.String(200), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_staff_groups_department", "staff_groups", ["department"])
    op.create_table(
        "staff_group_members",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("group_id", sa.String(64), sa.ForeignKey("staff_groups.id"), nullable=False),
        sa.Column("staff_sub", sa.String(255)),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("phone", sa.String(32)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("group_id", "email", name="uq_staff_group_members_group_email"),
    )
    op.create_index("ix_staff_group_members_group_id", "staff_group_members", ["group_id"])
    op.create_table(
        "callups",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("group_id", sa.String(64), sa.ForeignKey("staff_groups.id"), nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("message", sa.String(4000), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("alert_id", sa.String(64), sa.ForeignKey("alerts.id")),
        sa.Column("recipients", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("closed_by", sa.String(255)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("closed_at", UTCDateTime()),
    )
    op.create_index("ix_callups_group_id", "callups", ["group_id"])
    op.create_index("ix_callups_department_id", "callups", ["department", "id"])
    op.create_table(
        "callup_recipients",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("callup_id", sa.String(64), sa.ForeignKey("callups.id"), nullable=False),
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("staff_sub", sa.String(255)),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("token_version", sa.Integer, nullable=False),
        sa.Column("delivery_id", _BIGINT, sa.ForeignKey("deliveries.id")),
        sa.UniqueConstraint("callup_id", "member_id", name="uq_callup_recipients_callup_member"),
    )
    op.create_index("ix_callup_recipients_callup_id", "callup_recipients", ["callup_id"])
    op.create_table(
        "callup_replies",
        sa.Column("id", _BIGINT, primary_key=True, autoincrement=True),
        sa.Column("callup_id", sa.String(64), sa.ForeignKey("callups.id"), nullable=False),
        sa.Column(
            "recipient_id", sa.String(64), sa.ForeignKey("callup_recipients.id"), nullable=False
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("arrival_minutes", sa.Integer),
        sa.Column("comment", sa.String(1000)),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("replied_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_callup_replies_callup_recipient", "callup_replies", ["callup_id", "recipient_id"]
    )


def downgrade() -> None:
    op.drop_table("callup_replies")
    op.drop_table("callup_recipients")
    op.drop_table("callups")
    op.drop_table("staff_group_members")
    op.drop_table("staff_groups")
