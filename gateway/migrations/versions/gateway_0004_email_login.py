"""gateway identity provider: single-use e-mail login links (acr=email)

Revision ID: gateway_0004_email_login
Revises: gateway_0003_idp
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import UTCDateTime

revision: str = "gateway_0004_email_login"
down_revision: str | None = "gateway_0003_idp"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idp_email_login_links",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime()),
    )
    op.create_index("ix_idp_email_login_links_account_id", "idp_email_login_links", ["account_id"])


def downgrade() -> None:
    op.drop_table("idp_email_login_links")
