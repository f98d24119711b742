"""Response models of the auditors' routes (gateway.routes.audit)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class AuditEntry(BaseModel):
    seq: int
    hash: str
    event: dict[str, Any]
    """The hashed record itself (not the filter columns beside it)."""


class VerifyResult(BaseModel):
    ok: bool
    reason: str
    events: int
    checkpoints: int
    anchored_seq: int
    unanchored_tail: int
    first_bad_seq: int | None
    last_checkpoint_at: str | None
