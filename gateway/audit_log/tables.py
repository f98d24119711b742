"""Tables of the audit log (gateway Alembic history, revision gateway_0002_audit_chain).

`event` holds the canonical JSON that was hashed: it is the record. `actor`, `action`,
`target`, `kind`, `service` and `recorded_at` are copies for filtering only; readers show
the hashed `event`, so editing a copy cannot change what an auditor is shown.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Integer, Text
from sqlmodel import Field, SQLModel

from services.kit.sqltypes import UTCDateTime

_BIGINT = BigInteger().with_variant(Integer(), "sqlite")


class AuditEventRecord(SQLModel, table=True):
    """One link of the chain: an access record or a domain event. Append-only."""

    __tablename__ = "gateway_audit_log"

    seq: int = Field(sa_column=Column(_BIGINT, primary_key=True, autoincrement=False))
    event_id: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=16)
    recorded_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    actor: str | None = Field(default=None, max_length=255, index=True)
    action: str = Field(max_length=128, index=True)
    target: str = Field(max_length=255, index=True)
    service: str | None = Field(default=None, max_length=64)
    event: str = Field(sa_column=Column(Text(), nullable=False))
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class AuditCheckpointRecord(SQLModel, table=True):
    """A signed checkpoint over the chain head; `id` is the checkpoint order."""

    __tablename__ = "gateway_audit_checkpoints"

    id: int | None = Field(
        default=None, sa_column=Column(_BIGINT, primary_key=True, autoincrement=True)
    )
    kid: str = Field(max_length=64)
    head_seq: int = Field(sa_column=Column(_BIGINT, nullable=False))
    head_hash: str = Field(max_length=64)
    issued_at: str = Field(max_length=40)
    prev_signature: str | None = Field(default=None, max_length=128)
    signature: str = Field(max_length=128)


class AuditChainHead(SQLModel, table=True):
    """The one row every append locks (`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's
    `BEGIN IMMEDIATE` serialises writers), so two gateway replicas cannot fork the chain."""

    __tablename__ = "gateway_audit_head"

    id: int = Field(default=1, primary_key=True)
    seq: int = Field(sa_column=Column(_BIGINT, nullable=False))
    hash: str = Field(max_length=64)
    checkpoint_seq: int = Field(sa_column=Column(_BIGINT, nullable=False))
    checkpoint_signature: str | None = Field(default=None, max_length=128)
    checkpoint_issued_at: str | None = Field(default=None, max_length=40)
