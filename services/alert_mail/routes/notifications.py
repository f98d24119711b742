"""Routes: transactional notifications for other services (like GOV.UK Notify): send one from
a template, read its status, list them; the templates live under /v1/notifications/templates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from services.alert_mail import notifications_service as service
from services.alert_mail.delivery.simulated import SIMULATED_ADDRESSES, simulated_outcome
from services.alert_mail.routes import notification_templates
from services.alert_mail.routes.notification_access import NotificationId, Sender
from services.alert_mail.schemas.notifications import (
    TEMPLATE_ID_PATTERN,
    NotificationCreate,
    NotificationList,
    NotificationRead,
    NotificationStatus,
)
from services.kit.deps import ClockDep, SessionDep
from services.kit.idempotency import Idempotency
from services.kit.pagination import Cursor, Limit

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])
# Before /{notification_id}, which would otherwise match "templates".
router.include_router(notification_templates.router)


def _simulator_help() -> str:
    lines = []
    for email in SIMULATED_ADDRESSES:
        outcome = simulated_outcome(email)
        assert outcome is not None
        lines.append(f"- `{email}`: never sent; answers `{outcome.outcome}` ({outcome.code})")
    return "\n".join(lines)


SEND_DESCRIPTION = f"""Renders the template's latest version with `personalisation` and queues
the mail (priority below disaster alerts) in the same transaction; 201 with the rendered
subject and body and `status: created`. A missing placeholder value is a 422 naming
`personalisation.<name>`; an unknown or archived template is a 422 naming `template_id`.

Send `Idempotency-Key` to make retries safe: the same key and body replay the first answer
(200, `Idempotent-Replayed: true`) and no second mail is sent.

Statuses (read them with `GET /v1/notifications/{{id}}`): `created` → `sending` →
`delivered`; `temporary-failure` (the receiving server answered 4xx: retried with backoff),
`permanent-failure` (5xx), `technical-failure` (retries exhausted).

Test addresses that reach each status without sending any mail:

{_simulator_help()}
"""


@router.post(
    "",
    response_model=NotificationRead,
    status_code=201,
    description=SEND_DESCRIPTION,
    responses={200: {"model": NotificationRead, "description": "an Idempotency-Key replay"}},
)
async def send_notification(
    body: NotificationCreate,
    principal: Sender,
    session: SessionDep,
    clock: ClockDep,
    idem: Idempotency,
) -> Response:
    if (replay := await idem.begin(body)) is not None:
        return replay
    sent = await service.send(session, body, client=principal, now=clock.now())
    view = service.notification_read(*sent)
    return await idem.complete(201, view, location=f"/v1/notifications/{view.id}")


@router.get("", response_model=NotificationList)
async def list_notifications(
    principal: Sender,
    session: SessionDep,
    reference: Annotated[str | None, Query(min_length=1, max_length=255)] = None,
    status: NotificationStatus | None = None,
    template_id: Annotated[str | None, Query(max_length=64, pattern=TEMPLATE_ID_PATTERN)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> NotificationList:
    """Your own notifications, newest first."""
    filters = service.NotificationFilter(
        client=principal.sub, reference=reference, status=status, template_id=template_id
    )
    items, next_cursor = await service.list_notifications(
        session, filters, limit=limit, cursor=cursor
    )
    return NotificationList(items=items, next_cursor=next_cursor)


@router.get("/{notification_id}", response_model=NotificationRead)
async def get_notification(
    notification_id: NotificationId, principal: Sender, session: SessionDep
) -> NotificationRead:
    """Its status is its mail's delivery status; another client's notification is a 404."""
    return await service.get_notification(session, notification_id, principal.sub)
