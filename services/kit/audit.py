"""Audit events: written to the outbox in the same transaction as the change they describe,
then shipped in batches to the gateway's audit log (which dedupes by event id)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.auth import Principal
from services.kit.context import current_request_id
from services.kit.ids import new_id
from services.kit.outbox import Outcomes, RetryLater, Undeliverable, enqueue
from services.kit.service_token import ServiceTokenProvider
from services.kit.tables import OutboxMessage

AUDIT_TOPIC = "audit"
AUDIT_INGEST_PATH = "/internal/audit/events"


async def record(
    session: AsyncSession,
    principal: Principal | None,
    action: str,
    target: str,
    *,
    service: str,
    now: Any,
    changes: Mapping[str, Any] | None = None,
) -> str:
    """Adds an audit event (e.g. `payment.refunded`, `application.viewed`) to the outbox.

    `changes` holds old/new values of what changed; never secrets or whole bodies.
    """
    event_id = new_id("aud")
    event = {
        "id": event_id,
        "occurred_at": now.isoformat(),
        "service": service,
        "actor": principal.sub if principal else None,
        "actor_kind": principal.kind if principal else "system",
        "roles": sorted(principal.roles) if principal else [],
        "action": action,
        "target": target,
        "changes": dict(changes or {}),
        "request_id": current_request_id(),
    }
    await enqueue(session, AUDIT_TOPIC, event, now=now, message_id=event_id)
    return event_id


class AuditShipper:
    """Outbox handler: POSTs a batch of audit events to the gateway in one request."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        gateway_url: str,
        tokens: ServiceTokenProvider,
        service: str,
    ) -> None:
        self.client = client
        self.url = f"{gateway_url}{AUDIT_INGEST_PATH}"
        self.tokens = tokens
        self.service = service

    async def __call__(self, messages: Sequence[OutboxMessage]) -> Outcomes:
        events = [m.payload for m in messages]
        try:
            response = await self.client.post(
                self.url, json={"events": events}, auth=self.tokens.auth()
            )
        except httpx.HTTPError as exc:
            return [RetryLater(f"gateway unreachable: {type(exc).__name__}")] * len(messages)
        except Exception as exc:  # token endpoint down surfaces as ServiceUnavailable
            return [RetryLater(f"cannot authenticate to the gateway: {exc}")] * len(messages)
        if response.status_code in (200, 201, 202):
            return [None] * len(messages)
        if response.status_code in (400, 422):
            return [Undeliverable(f"gateway refused the batch: {response.status_code}")] * len(
                messages
            )
        return [RetryLater(f"gateway answered {response.status_code}")] * len(messages)
