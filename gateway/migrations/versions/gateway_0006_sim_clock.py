"""the simulated time every gateway replica follows (the kit's table, as each service has)

Revision ID: gateway_0006_sim_clock
Revises: gateway_0005_revocations
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import UTCDateTime

revision: str = "gateway_0006_sim_clock"
down_revision: str | None = "gateway_0005_revocations"
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
