"""gateway audit chain: the hash-chained log, its signed checkpoints and the chain head

Events already ingested into gateway_audit_events are moved into the chain in arrival
order, then that table is dropped.

Revision ID: gateway_0002_audit_chain
Revises: gateway_0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from gateway.audit_chain.canonical import canonical_json
from gateway.audit_chain.chain import GENESIS, ChainLink, append
from gateway.audit_log.events import domain_entry
from services.kit.sqltypes import JSONType, UTCDateTime

revision: str = "gateway_0002_audit_chain"
down_revision: str | None = "gateway_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    log = op.create_table(
        "gateway_audit_log",
        sa.Column("seq", BIGINT, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("recorded_at", UTCDateTime(), nullable=False),
        sa.Column("actor", sa.String(255)),
        sa.Column("action", sa.String(128), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("service", sa.String(64)),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_gateway_audit_log_recorded_at", "gateway_audit_log", ["recorded_at"])
    op.create_index("ix_gateway_audit_log_actor", "gateway_audit_log", ["actor"])
    op.create_index("ix_gateway_audit_log_action", "gateway_audit_log", ["action"])
    op.create_index("ix_gateway_audit_log_target", "gateway_audit_log", ["target"])
    op.create_table(
        "gateway_audit_checkpoints",
        sa.Column("id", BIGINT, primary_key=True, autoincrement=True),
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("head_seq", BIGINT, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.String(40), nullable=False),
        sa.Column("prev_signature", sa.String(128)),
        sa.Column("signature", sa.String(128), nullable=False),
    )
    head = op.create_table(
        "gateway_audit_head",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("seq", BIGINT, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("checkpoint_seq", BIGINT, nullable=False),
        sa.Column("checkpoint_signature", sa.String(128)),
        sa.Column("checkpoint_issued_at", sa.String(40)),
    )
    old = sa.table(
        "gateway_audit_events",
        sa.column("seq", BIGINT),
        sa.column("event_id", sa.String()),
        sa.column("service", sa.String()),
        sa.column("shipped_by", sa.String()),
        sa.column("occurred_at", UTCDateTime()),
        sa.column("received_at", UTCDateTime()),
        sa.column("actor", sa.String()),
        sa.column("actor_kind", sa.String()),
        sa.column("roles", JSONType),
        sa.column("action", sa.String()),
        sa.column("target", sa.String()),
        sa.column("changes", JSONType),
        sa.column("request_id", sa.String()),
    )
    bind = op.get_bind()
    prev: ChainLink | None = None
    for row in bind.execute(sa.select(old).order_by(old.c.seq)).mappings():
        entry = domain_entry(
            event_id=row["event_id"],
            service=row["service"],
            shipped_by=row["shipped_by"],
            occurred_at=row["occurred_at"],
            recorded_at=row["received_at"] or datetime.now(UTC),
            actor=row["actor"],
            actor_kind=row["actor_kind"],
            roles=row["roles"] or [],
            action=row["action"],
            target=row["target"],
            changes=row["changes"] or {},
            request_id=row["request_id"],
        )
        prev = append(prev, entry.event)
        bind.execute(
            log.insert().values(
                seq=prev.seq,
                event_id=entry.event_id,
                kind=entry.kind,
                recorded_at=entry.recorded_at,
                actor=entry.actor,
                action=entry.action,
                target=entry.target,
                service=entry.service,
                event=canonical_json(prev.event),
                prev_hash=prev.prev_hash,
                hash=prev.hash,
            )
        )
    bind.execute(
        head.insert().values(
            id=1,
            seq=0 if prev is None else prev.seq,
            hash=GENESIS if prev is None else prev.hash,
            checkpoint_seq=0,
        )
    )
    op.drop_table("gateway_audit_events")


def downgrade() -> None:
    raise NotImplementedError("the audit chain is append-only; restore from a backup instead")
