"""blocks.cancelled_reservations: the reservations a block cancelled when it was made, kept so
every read of the block (GET, list) shows what its create answered

Revision ID: facility_booking_0005
Revises: facility_booking_0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import JSONType

revision: str = "facility_booking_0005"
down_revision: str | None = "facility_booking_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("blocks") as batch:
        batch.add_column(
            sa.Column(
                "cancelled_reservations", JSONType, nullable=False, server_default=sa.text("'[]'")
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("blocks") as batch:
        batch.drop_column("cancelled_reservations")
