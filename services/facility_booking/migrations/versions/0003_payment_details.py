"""reservations.payment_details: the konbini / Pay-easy instructions shown to the user

Revision ID: facility_booking_0003
Revises: facility_booking_0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import JSONType

revision: str = "facility_booking_0003"
down_revision: str | None = "facility_booking_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("reservations") as batch:
        batch.add_column(
            sa.Column("payment_details", JSONType, nullable=False, server_default=sa.text("'{}'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("reservations") as batch:
        batch.drop_column("payment_details")
