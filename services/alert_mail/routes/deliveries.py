"""Routes: an alert's delivery progress (到達率) and its deliveries, for the staff of the
alert's department (others get 404, as for the alert itself)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.alert_mail import alert_reads, deliveries_service
from services.alert_mail.domain.delivery_status import DeliveryState
from services.alert_mail.routes.alert_deps import AlertIdPath
from services.alert_mail.schemas.deliveries import AlertProgress, DeliveryList
from services.kit import audit
from services.kit.auth import Staff, StaffMfa
from services.kit.deps import AuditedReadSession, ClockDep, SessionDep
from services.kit.pagination import Cursor, Limit

router = APIRouter(prefix="/v1", tags=["deliveries"])


@router.get("/alerts/{alert_id}/progress", response_model=AlertProgress)
async def alert_progress(
    alert_id: AlertIdPath, principal: Staff, session: SessionDep
) -> AlertProgress:
    """Deliveries per status, pending and failed counts, retries waiting, the mails a Cancel
    (`cancelled`) or an Update (`superseded`) of the alert stopped before they were sent, and
    the reach rate (到達率 = delivered / recipients), with the first and last delivery times."""
    alert = await alert_reads.get_visible(session, alert_id, principal)
    return await deliveries_service.progress(session, alert)


@router.get("/alerts/{alert_id}/deliveries", response_model=DeliveryList)
async def alert_deliveries(
    alert_id: AlertIdPath,
    principal: StaffMfa,
    session: AuditedReadSession,
    clock: ClockDep,
    status: DeliveryState | None = None,
    email: Annotated[str | None, Query(min_length=3, max_length=254)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> DeliveryList:
    """One row per recipient (e-mail addresses: each read is audited as
    `alert.deliveries.viewed`). Filters: `status`, `email` (exact, case-insensitive)."""
    alert = await alert_reads.get_visible(session, alert_id, principal)
    page = await deliveries_service.list_deliveries(
        session, alert, status=status, email=email, limit=limit, cursor=cursor
    )
    await audit.record(
        session,
        principal,
        "alert.deliveries.viewed",
        alert.id,
        service="alert_mail",
        now=clock.now(),
        changes={
            "filters": dict(deliveries_service.filters_for_audit(status=status, email=email)),
            "returned": len(page.items),
        },
    )
    return page
