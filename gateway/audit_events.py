"""Ingestion of the audit events services ship (services.kit.audit.AuditShipper).

Delivery is at-least-once, so the store dedupes by event id: a redelivered event is
accepted and ignored. Events are only ever inserted, never updated.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel.ext.asyncio.session import AsyncSession

from gateway.tables import AuditEventRecord

MAX_EVENTS_PER_BATCH = 500
MAX_CHANGES_BYTES = 16_384

Token = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]+$")]


class AuditEventIn(BaseModel):
    """One event as `services.kit.audit.record` writes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[Token, StringConstraints(min_length=1, max_length=64)]
    occurred_at: AwareDatetime
    service: Annotated[Token, StringConstraints(min_length=1, max_length=64)]
    actor: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = None
    actor_kind: Literal["citizen", "business", "staff", "service", "system"]
    roles: list[Annotated[Token, StringConstraints(max_length=64)]] = Field(
        default_factory=list, max_length=32
    )
    action: Annotated[Token, StringConstraints(min_length=1, max_length=128)]
    target: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    changes: dict[str, Any] = Field(default_factory=dict)
    request_id: Annotated[Token, StringConstraints(max_length=128)] | None = None

    @field_validator("changes")
    @classmethod
    def _bounded_changes(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(json.dumps(value, ensure_ascii=False).encode()) > MAX_CHANGES_BYTES:
            raise ValueError(f"changes exceed {MAX_CHANGES_BYTES} bytes")
        return value

    @field_validator("actor", "target")
    @classmethod
    def _no_control_characters(cls, value: str | None) -> str | None:
        if value is not None and any(ord(c) < 32 for c in value):
            raise ValueError("control characters are not allowed")
        return value


class AuditEventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[AuditEventIn] = Field(min_length=1, max_length=MAX_EVENTS_PER_BATCH)


class AuditIngestResult(BaseModel):
    accepted: int
    duplicates: int


async def store_events(
    session: AsyncSession,
    events: list[AuditEventIn],
    *,
    shipped_by: str,
    received_at: datetime,
) -> AuditIngestResult:
    """Inserts the events not seen before, in batch order; counts the rest as duplicates."""
    # On the session's connection (its transaction): sqlmodel deprecates Session.execute.
    connection = await session.connection()
    dialect = connection.dialect.name
    accepted = 0
    for event in events:
        values = {
            "event_id": event.id,
            "service": event.service,
            "shipped_by": shipped_by,
            "occurred_at": event.occurred_at,
            "received_at": received_at,
            "actor": event.actor,
            "actor_kind": event.actor_kind,
            "roles": list(event.roles),
            "action": event.action,
            "target": event.target,
            "changes": event.changes,
            "request_id": event.request_id,
        }
        statement: Any
        if dialect == "postgresql":
            statement = pg_insert(AuditEventRecord).values(**values)
        else:
            statement = sqlite_insert(AuditEventRecord).values(**values)
        statement = statement.on_conflict_do_nothing(index_elements=["event_id"])
        result = await connection.execute(statement)
        accepted += int(getattr(result, "rowcount", 0) == 1)
    return AuditIngestResult(accepted=accepted, duplicates=len(events) - accepted)
