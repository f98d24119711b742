"""gateway identity provider: one revocation list (tokens, sessions, accounts) for every
verifier, replacing the access-token denylist

Revision ID: gateway_0005_revocations
Revises: gateway_0004_email_login
Create Date: 2026-12-03
"""

import time
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import UTCDateTime

revision: str = "gateway_0005_revocations"
down_revision: str | None = "gateway_0004_email_login"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idp_revocations",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("issued_before", sa.Float()),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_idp_revocations_expires_at", "idp_revocations", ["expires_at"])
    op.create_index("ix_idp_revocations_recorded_at", "idp_revocations", ["recorded_at"])
    op.execute(
        "INSERT INTO idp_revocations (kind, value, expires_at, recorded_at) "
        "SELECT 'token', jti, expires_at, expires_at FROM idp_revoked_access_tokens"
    )
    op.drop_table("idp_revoked_access_tokens")
    # Accounts disabled before this revision: refuse every token they were issued so far.
    now = time.time()
    table = sa.table(
        "idp_revocations",
        sa.column("kind", sa.String()),
        sa.column("value", sa.String()),
        sa.column("issued_before", sa.Float()),
        sa.column("expires_at", UTCDateTime()),
        sa.column("recorded_at", UTCDateTime()),
    )
    disabled = op.get_bind().execute(
        sa.text("SELECT id FROM idp_accounts WHERE status = 'disabled'")
    )
    rows = [
        {
            "kind": "account",
            "value": account_id,
            "issued_before": now,
            "expires_at": datetime.fromtimestamp(now + 86_400, UTC),
            "recorded_at": datetime.fromtimestamp(now, UTC),
        }
        for (account_id,) in disabled
    ]
    if rows:
        op.bulk_insert(table, rows)


def downgrade() -> None:
    op.create_table(
        "idp_revoked_access_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.drop_table("idp_revocations")
