"""Builds realistic audit logs for the audit_chain tests: events, checkpoints every N events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TypedDict

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from gateway.audit_chain.canonical import JsonValue, rfc3339_utc
from gateway.audit_chain.chain import ChainLink, append
from gateway.audit_chain.checkpoint import Checkpoint, CheckpointPolicy, sign_checkpoint

KID = "audit-2026-04"
SIGNING_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC_KEYS: dict[str, Ed25519PublicKey] = {KID: SIGNING_KEY.public_key()}
ATTACKER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
START = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)

Record = ChainLink | Checkpoint

_ACTIONS = [
    ("GET /v1/applications/{id}", "e_application", 200),
    ("POST /v1/reservations", "facility_booking", 201),
    ("POST /v1/alerts", "alert_mail", 202),
    ("POST /v1/payments", "payments_mock", 402),
]


class AuditEvent(TypedDict):
    id: str
    occurred_at: str
    actor: str
    action: str
    target: str
    service: str
    status: int
    request_id: str
    details: dict[str, JsonValue]


def make_event(n: int) -> AuditEvent:
    action, service, status = _ACTIONS[n % len(_ACTIONS)]
    return AuditEvent(
        id=f"evt_{n:06d}",
        occurred_at=rfc3339_utc(START + timedelta(seconds=n)),
        actor=f"staff:{1000 + n % 7}" if n % 3 else f"citizen:{n}",
        action=action,
        target=f"/v1/applications/app_{n % 13:04d}",
        service=service,
        status=status,
        request_id=f"req-{n:08x}",
        details={
            "latency_ms": 3 + n % 40,
            "procedure": "住民票の写し交付申請",
            "retry": n % 5 == 0,
        },
    )


def build_log(
    events: int = 200, every: int = 50, key: Ed25519PrivateKey = SIGNING_KEY, kid: str = KID
) -> list[Record]:
    """Events in order, each checkpoint right after the event it signs (as the log emits them)."""
    policy = CheckpointPolicy(every_events=every, every_seconds=3600)
    records: list[Record] = []
    head: ChainLink | None = None
    last_checkpoint: Checkpoint | None = None
    since_checkpoint = 0
    for n in range(1, events + 1):
        head = append(head, make_event(n))
        records.append(head)
        since_checkpoint += 1
        elapsed = float(n if last_checkpoint is None else n - last_checkpoint.head_seq)
        if policy.due(since_checkpoint, elapsed):
            last_checkpoint = sign_checkpoint(
                key,
                kid,
                head.seq,
                head.hash,
                rfc3339_utc(START + timedelta(seconds=n)),
                None if last_checkpoint is None else last_checkpoint.signature,
            )
            records.append(last_checkpoint)
            since_checkpoint = 0
    return records


def links_of(records: list[Record]) -> list[ChainLink]:
    return [r for r in records if isinstance(r, ChainLink)]


def checkpoints_of(records: list[Record]) -> list[Checkpoint]:
    return [r for r in records if isinstance(r, Checkpoint)]
