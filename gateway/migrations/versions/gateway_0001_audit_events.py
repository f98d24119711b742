"""gateway audit events: the append-only store of events the services ship

Revision ID: gateway_0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import JSONType, UTCDateTime

revision: str = "gateway_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gateway_audit_events",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("shipped_by", sa.String(255), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("received_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(255)),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("roles", JSONType, nullable=False),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("changes", JSONType, nullable=False),
        sa.Column("request_id", sa.String(128)),
    )
    op.create_index("ix_gateway_audit_events_action", "gateway_audit_events", ["action"])
    op.create_index("ix_gateway_audit_events_target", "gateway_audit_events", ["target"])


def downgrade() -> None:
    op.drop_table("gateway_audit_events")
