"""The gateway's own tables (gateway Alembic history under gateway/migrations)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Integer
from sqlmodel import Field, SQLModel

from services.kit.sqltypes import JSONType, UTCDateTime


class AuditEventRecord(SQLModel, table=True):
    """A domain audit event shipped by a service. Append-only: rows are never updated.

    `seq` is the arrival order (the hash chain, added later, links rows in this order);
    `event_id` is the service's id, unique, so a redelivered event is stored once.
    """

    __tablename__ = "gateway_audit_events"

    seq: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    event_id: str = Field(max_length=64, unique=True)
    service: str = Field(max_length=64)
    shipped_by: str = Field(max_length=255)
    occurred_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str | None = Field(default=None, max_length=255)
    actor_kind: str = Field(max_length=16)
    roles: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    action: str = Field(max_length=128, index=True)
    target: str = Field(max_length=255, index=True)
    changes: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    request_id: str | None = Field(default=None, max_length=128)
