"""kit tables: the simulation clock's offset, shared by every process of a service

Revision ID: kit_0004
Revises: kit_0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import UTCDateTime

revision: str = "kit_0004"
down_revision: str | None = "kit_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    table = op.create_table(
        "kit_sim_clock",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("offset_microseconds", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UTCDateTime()),
    )
    op.bulk_insert(table, [{"id": 1, "offset_microseconds": 0, "updated_at": None}])


def downgrade() -> None:
    op.drop_table("kit_sim_clock")
