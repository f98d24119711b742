"""kit tables: the webhook endpoint a service registered at a provider, with its secret

Revision ID: kit_0002
Revises: kit_0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import UTCDateTime

revision: str = "kit_0002"
down_revision: str | None = "kit_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kit_webhook_subscriptions",
        sa.Column("provider", sa.String(64), primary_key=True),
        sa.Column("endpoint_id", sa.String(64)),
        sa.Column("url", sa.String(2048)),
        sa.Column("secret", sa.Text),
        sa.Column("claimed_until", UTCDateTime()),
        sa.Column("registered_at", UTCDateTime()),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("kit_webhook_subscriptions")
