"""gateway identity provider: accounts, refresh tokens, revoked access tokens, mock JPKI

Revision ID: gateway_0003_idp
Revises: gateway_0002_audit_chain
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import JSONType, UTCDateTime

revision: str = "gateway_0003_idp"
down_revision: str | None = "gateway_0002_audit_chain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "idp_accounts",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("email", sa.String(254), unique=True),
        sa.Column("email_verified_at", UTCDateTime()),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255)),
        sa.Column("credential_version", sa.Integer(), nullable=False),
        sa.Column("department", sa.String(32)),
        sa.Column("roles", JSONType, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("totp_secret", sa.String(512)),
        sa.Column("totp_confirmed_at", UTCDateTime()),
        sa.Column("totp_last_step", sa.BigInteger()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "idp_refresh_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("family_id", sa.String(40), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("acr", sa.String(16), nullable=False),
        sa.Column("issued_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime()),
        sa.Column("revoked_at", UTCDateTime()),
    )
    op.create_index("ix_idp_refresh_tokens_family_id", "idp_refresh_tokens", ["family_id"])
    op.create_index("ix_idp_refresh_tokens_account_id", "idp_refresh_tokens", ["account_id"])
    op.create_table(
        "idp_revoked_access_tokens",
        sa.Column("jti", sa.String(64), primary_key=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "idp_jpki_certificates",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("issuer", sa.String(500), nullable=False),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("account_id", sa.String(40), nullable=False),
        sa.Column("not_after", UTCDateTime(), nullable=False),
        sa.Column("linked_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("issuer", "serial", name="uq_idp_jpki_cert"),
    )
    op.create_index("ix_idp_jpki_certificates_account_id", "idp_jpki_certificates", ["account_id"])
    op.create_table(
        "idp_jpki_revocations",
        sa.Column("serial", sa.String(64), primary_key=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("revoked_by", sa.String(255), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "idp_jpki_nonces",
        sa.Column("nonce", sa.String(64), primary_key=True),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime()),
    )


def downgrade() -> None:
    for table in (
        "idp_jpki_nonces",
        "idp_jpki_revocations",
        "idp_jpki_certificates",
        "idp_revoked_access_tokens",
        "idp_refresh_tokens",
        "idp_accounts",
    ):
        op.drop_table(table)
