"""kit tables: the headers of a stored idempotent response (Location ...), for its replays

Revision ID: kit_0003
Revises: kit_0002
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "kit_0003"
down_revision: str | None = "kit_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("kit_idempotency", sa.Column("response_headers", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("kit_idempotency") as batch:
        batch.drop_column("response_headers")
