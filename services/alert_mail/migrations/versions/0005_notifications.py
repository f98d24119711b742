"""templates and notifications

Revision ID: alert_mail_0005
Revises: alert_mail_0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

revision: str = "alert_mail_0005"
down_revision: str | None = "alert_mail_0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    pass  # being built


def downgrade() -> None:
    pass
