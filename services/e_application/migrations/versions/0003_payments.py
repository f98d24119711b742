"""payment attempts of an application's fee

Revision ID: e_application_0003
Revises: e_application_0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import UTCDateTime

revision: str = "e_application_0003"
down_revision: str | None = "e_application_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "application_payments",
        sa.Column("payment_id", sa.String(64), primary_key=True),
        sa.Column(
            "application_id",
            sa.String(40),
            sa.ForeignKey("applications.id"),
            nullable=False,
            index=True,
        ),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("amount_yen", sa.Integer, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("application_id", "attempt", name="uq_application_payment_attempt"),
    )


def downgrade() -> None:
    op.drop_table("application_payments")
