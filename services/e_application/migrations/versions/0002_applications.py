"""versioned procedures, applications, their history, attachments and reference counters

Revision ID: e_application_0002
Revises: e_application_0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import JSONType, UTCDateTime

revision: str = "e_application_0002"
down_revision: str | None = "e_application_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("procedures") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="1"))
        batch.add_column(sa.Column("description_ja", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("description_en", sa.Text, nullable=False, server_default=""))
        batch.add_column(sa.Column("capacity", sa.Integer))
        batch.add_column(sa.Column("taken", sa.Integer, nullable=False, server_default="0"))

    op.create_table(
        "procedure_versions",
        sa.Column("code", sa.String(64), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("definition", JSONType, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("published_at", UTCDateTime(), nullable=False),
        sa.Column("published_by", sa.String(255), nullable=False),
    )
    op.create_table(
        "applications",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("procedure_code", sa.String(64), nullable=False),
        sa.Column("procedure_version", sa.Integer, nullable=False),
        sa.Column("department", sa.String(64), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("owner_sub", sa.String(255)),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("filed_by", sa.String(255)),
        sa.Column("representative", JSONType),
        sa.Column("locale", sa.String(2), nullable=False),
        sa.Column("contact_email", sa.String(254)),
        sa.Column("form", JSONType, nullable=False),
        sa.Column("reference", sa.String(11), unique=True),
        sa.Column("access_code_hash", sa.String(64)),
        sa.Column("assigned_to", sa.String(255), index=True),
        sa.Column("approval_requested_by", sa.String(255)),
        sa.Column("holds_seat", sa.Boolean, nullable=False),
        sa.Column("fee_yen", sa.Integer, nullable=False),
        sa.Column("payment_status", sa.String(16), nullable=False),
        sa.Column("payment_method", sa.String(16)),
        sa.Column("payment_id", sa.String(64)),
        sa.Column("payment_instructions", JSONType),
        sa.Column("correction", JSONType),
        sa.Column("correction_deadline", sa.Date, index=True),
        sa.Column("form_at_return", JSONType),
        sa.Column("signature", JSONType),
        sa.Column("due_on", sa.Date),
        sa.Column("lookup_failures", sa.Integer, nullable=False),
        sa.Column("lookup_window_start", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("submitted_at", UTCDateTime()),
        sa.Column("returned_at", UTCDateTime()),
        sa.Column("decided_at", UTCDateTime()),
        sa.Column("completed_at", UTCDateTime()),
    )
    op.create_index("ix_applications_queue", "applications", ["department", "status", "id"])
    op.create_index("ix_applications_owner", "applications", ["owner_sub", "id"])
    op.create_index("ix_applications_due", "applications", ["department", "due_on"])
    op.create_table(
        "application_events",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("application_id", sa.String(40), sa.ForeignKey("applications.id"), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(255)),
        sa.Column("actor_kind", sa.String(16), nullable=False),
        sa.Column("transition", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(24)),
        sa.Column("to_status", sa.String(24), nullable=False),
        sa.Column("comment", sa.Text),
        sa.Column("internal_comment", sa.Text),
        sa.Column("data", JSONType, nullable=False),
        sa.UniqueConstraint("application_id", "seq", name="uq_application_event_seq"),
    )
    op.create_table(
        "application_attachments",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("application_id", sa.String(40), sa.ForeignKey("applications.id"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("filename", sa.String(200), nullable=False),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("uploaded_by", sa.String(255)),
        sa.Column("title", sa.String(200)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index(
        "ix_application_attachments_app", "application_attachments", ["application_id", "id"]
    )
    op.create_table(
        "reference_counters",
        sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("last", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("reference_counters")
    op.drop_table("application_attachments")
    op.drop_table("application_events")
    op.drop_table("applications")
    op.drop_table("procedure_versions")
    with op.batch_alter_table("procedures") as batch:
        for column in ("taken", "capacity", "description_en", "description_ja", "version"):
            batch.drop_column(column)
