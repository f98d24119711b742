"""Audit log settings (`GatewaySettings.audit`; from the environment as JSON in
`GATEWAY_AUDIT`, e.g. `{"checkpoint_every_events": 100}`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from services.kit.revocation import REVOCATIONS_PATH


class AuditSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key_path: Path | None = Field(
        None, description="Ed25519 checkpoint key; default <var_dir>/gateway/audit-key.json"
    )
    queue_size: int = Field(10_000, ge=1, description="access records waiting to be written")
    batch_size: int = Field(500, ge=1, le=10_000, description="write as soon as this many wait")
    flush_interval_seconds: float = Field(0.2, gt=0, le=60, description="longest wait of a record")
    checkpoint_every_events: int = Field(1000, ge=1)
    checkpoint_every_seconds: float = Field(
        60.0, gt=0, description="also with no new events (a heartbeat)"
    )
    skip_paths: list[str] = Field(
        default_factory=lambda: ["/healthz", "/readyz", "/metrics", REVOCATIONS_PATH],
        description="probes and the services' once-a-second revocation polls: not access-logged",
    )
    page_size: int = Field(1000, ge=1, le=100_000, description="rows per read in verify/export")
