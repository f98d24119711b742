"""staff groups and call-ups

Revision ID: alert_mail_0006
Revises: alert_mail_0005
Create Date: 2026-11-21
"""

from collections.abc import Sequence

revision: str = "alert_mail_0006"
down_revision: str | None = "alert_mail_0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # being built


def downgrade() -> None:
    pass
