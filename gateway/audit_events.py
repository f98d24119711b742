"""Ingestion of the audit events services ship (services.kit.audit.AuditShipper).

Delivery is at-least-once, so the log dedupes by event id: a redelivered event is
accepted and ignored. Events are appended to the hash chain (gateway.audit_log), never updated.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from gateway.audit_log.events import domain_entry
from gateway.audit_log.store import AuditLog

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
    audit: AuditLog,
    events: list[AuditEventIn],
    *,
    shipped_by: str,
    received_at: datetime,
) -> AuditIngestResult:
    """Chains the events not seen before, in batch order; counts the rest as duplicates.
    Committed before this returns, so the shipping outbox keeps an event until it is here."""
    entries = [
        domain_entry(
            event_id=event.id,
            service=event.service,
            shipped_by=shipped_by,
            occurred_at=event.occurred_at,
            recorded_at=received_at,
            actor=event.actor,
            actor_kind=event.actor_kind,
            roles=event.roles,
            action=event.action,
            target=event.target,
            changes=event.changes,
            request_id=event.request_id,
        )
        for event in events
    ]
    accepted = await audit.append(entries, dedupe=True)
    return AuditIngestResult(accepted=accepted, duplicates=len(events) - accepted)
