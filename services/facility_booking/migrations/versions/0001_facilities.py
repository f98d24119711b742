"""facilities and rooms

Revision ID: facility_booking_0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "facility_booking_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "facilities",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name_ja", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False, index=True),
        sa.Column("district", sa.String(32), nullable=False, index=True),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
    )
    op.create_table(
        "rooms",
        sa.Column(
            "facility_code",
            sa.String(64),
            sa.ForeignKey("facilities.code", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name_ja", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rooms")
    op.drop_table("facilities")
