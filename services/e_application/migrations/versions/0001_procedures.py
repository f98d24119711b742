"""procedure catalogue

Revision ID: e_application_0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "e_application_0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "procedures",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("name_ja", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("department", sa.String(64), nullable=False, index=True),
        sa.Column("category_ja", sa.String(64), nullable=False),
        sa.Column("assurance", sa.String(16), nullable=False),
        sa.Column("fee_yen", sa.Integer),
        sa.Column("standard_processing_days", sa.Integer),
        sa.Column("active", sa.Boolean, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("procedures")
