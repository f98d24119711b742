"""facilities.lottery_until: the latest first-come opening of the facility's rounds

Revision ID: facility_booking_0004
Revises: facility_booking_0003
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import UTCDateTime

revision: str = "facility_booking_0004"
down_revision: str | None = "facility_booking_0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("facilities") as batch:
        batch.add_column(sa.Column("lottery_until", UTCDateTime(), nullable=True))
    op.execute(
        "UPDATE facilities SET lottery_until = (SELECT max(r.first_come_opens_at)"
        " FROM lottery_rounds r WHERE r.facility_code = facilities.code)"
    )


def downgrade() -> None:
    with op.batch_alter_table("facilities") as batch:
        batch.drop_column("lottery_until")
