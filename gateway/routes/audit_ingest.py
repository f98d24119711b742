"""`POST /internal/audit/events`: where the services' outboxes ship their audit events."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, status

from gateway.audit_events import AuditEventBatch, AuditIngestResult, store_events
from gateway.deps import RuntimeDep
from gateway.routes.audit import audit_log
from services.kit.audit import AUDIT_INGEST_PATH
from services.kit.auth import Principal, service_client
from services.kit.errors import UnprocessableContent

router = APIRouter(tags=["audit"])


def speaks_for(principal: Principal) -> str:
    """The service a client may ship events for: `svc-<service>` ships `<service>`'s."""
    return principal.sub.removeprefix("svc-")


@router.post(
    AUDIT_INGEST_PATH,
    response_model=AuditIngestResult,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ingest a batch of audit events (deduplicated by event id)",
)
async def ingest_audit_events(
    batch: AuditEventBatch,
    request: Request,
    runtime: RuntimeDep,
    principal: Annotated[Principal, service_client(scope="audit:write")],
) -> AuditIngestResult:
    service = speaks_for(principal)
    foreign = [
        {"field": f"events.{i}.service", "message": f"this client ships events for {service} only"}
        for i, event in enumerate(batch.events)
        if event.service != service
    ]
    if foreign:
        raise UnprocessableContent(
            "events name a service other than the one shipping them", errors=foreign
        )
    return await store_events(
        audit_log(request), batch.events, shipped_by=principal.sub, received_at=runtime.clock.now()
    )
