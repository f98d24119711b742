"""Webhook endpoints: register, read, update (disable), rotate the secret, delete; the
delivery log with every attempt, and manual redelivery."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from starlette.responses import Response

from services.kit.deps import ClockDep, SessionDep
from services.kit.pagination import Cursor, Limit
from services.payments_mock import webhooks_service as service
from services.payments_mock.deps import DeliveryId, EndpointId, SettingsDep, WebhookManager
from services.payments_mock.domain.lifecycle import EventType
from services.payments_mock.domain.webhook_states import DeliveryStatus
from services.payments_mock.models import WebhookEndpoint
from services.payments_mock.schemas import (
    SecretRotate,
    WebhookDeliveryList,
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointList,
    WebhookEndpointRead,
    WebhookEndpointSecret,
    WebhookEndpointUpdate,
)

router = APIRouter(prefix="/v1/webhook-endpoints", tags=["webhooks"])


def _with_secret(endpoint: WebhookEndpoint) -> WebhookEndpointSecret:
    return WebhookEndpointSecret.model_validate(endpoint, from_attributes=True)


@router.post("", response_model=WebhookEndpointSecret, status_code=201)
async def create_endpoint(
    body: WebhookEndpointCreate,
    principal: WebhookManager,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    response: Response,
) -> WebhookEndpointSecret:
    """Registers a callback URL (loopback or an allow-listed host) and returns its signing
    secret (`whsec_…`, Standard Webhooks). A `ping` event is delivered at once."""
    endpoint = await service.create_endpoint(
        session, settings, body, actor=principal, now=clock.now()
    )
    response.headers["Location"] = f"/v1/webhook-endpoints/{endpoint.id}"
    return _with_secret(endpoint)


@router.get("", response_model=WebhookEndpointList)
async def list_endpoints(
    principal: WebhookManager, session: SessionDep, limit: Limit = 50, cursor: Cursor = None
) -> WebhookEndpointList:
    rows, next_cursor = await service.list_endpoints(
        session, principal.sub, limit=limit, cursor=cursor
    )
    return WebhookEndpointList(
        items=[service.endpoint_read(e) for e in rows], next_cursor=next_cursor
    )


@router.get("/{endpoint_id}", response_model=WebhookEndpointRead)
async def get_endpoint(
    endpoint_id: EndpointId, principal: WebhookManager, session: SessionDep
) -> WebhookEndpointRead:
    return service.endpoint_read(await service.get_endpoint(session, endpoint_id, principal.sub))


@router.patch("/{endpoint_id}", response_model=WebhookEndpointRead)
async def update_endpoint(
    endpoint_id: EndpointId,
    body: WebhookEndpointUpdate,
    principal: WebhookManager,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> WebhookEndpointRead:
    """Change the URL, the event types or the description; `enabled: false` disables it."""
    endpoint = await service.get_endpoint(session, endpoint_id, principal.sub)
    await service.update_endpoint(
        session, settings, endpoint, body, actor=principal, now=clock.now()
    )
    return service.endpoint_read(endpoint)


@router.delete("/{endpoint_id}", status_code=204, response_class=Response)
async def delete_endpoint(
    endpoint_id: EndpointId, principal: WebhookManager, session: SessionDep, clock: ClockDep
) -> Response:
    endpoint = await service.get_endpoint(session, endpoint_id, principal.sub)
    await service.delete_endpoint(session, endpoint, actor=principal, now=clock.now())
    return Response(status_code=204)


@router.post("/{endpoint_id}/rotate-secret", response_model=WebhookEndpointSecret)
async def rotate_secret(
    endpoint_id: EndpointId,
    principal: WebhookManager,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    body: SecretRotate | None = None,
) -> WebhookEndpointSecret:
    """A new secret; the old one still signs (a second signature) for the grace period."""
    endpoint = await service.get_endpoint(session, endpoint_id, principal.sub)
    await service.rotate_secret(
        session,
        settings,
        endpoint,
        grace_hours=body.grace_period_hours if body else None,
        actor=principal,
        now=clock.now(),
    )
    return _with_secret(endpoint)


@router.get("/{endpoint_id}/deliveries", response_model=WebhookDeliveryList)
async def list_deliveries(
    endpoint_id: EndpointId,
    principal: WebhookManager,
    session: SessionDep,
    status: DeliveryStatus | None = None,
    event_type: EventType | Literal["ping"] | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> WebhookDeliveryList:
    """Every delivery to this endpoint, oldest first, each with its attempt log."""
    await service.get_endpoint(session, endpoint_id, principal.sub)
    items, next_cursor = await service.list_deliveries(
        session, endpoint_id, status=status, event_type=event_type, limit=limit, cursor=cursor
    )
    return WebhookDeliveryList(items=items, next_cursor=next_cursor)


@router.get("/{endpoint_id}/deliveries/{delivery_id}", response_model=WebhookDeliveryRead)
async def get_delivery(
    endpoint_id: EndpointId, delivery_id: DeliveryId, principal: WebhookManager, session: SessionDep
) -> WebhookDeliveryRead:
    await service.get_endpoint(session, endpoint_id, principal.sub)
    delivery = await service.get_delivery(session, endpoint_id, delivery_id)
    return await service.delivery_read(session, delivery)


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/redeliver",
    response_model=WebhookDeliveryRead,
    status_code=202,
)
async def redeliver(
    endpoint_id: EndpointId,
    delivery_id: DeliveryId,
    principal: WebhookManager,
    session: SessionDep,
    clock: ClockDep,
) -> WebhookDeliveryRead:
    """Sends the event again (same `webhook-id`), with a fresh retry schedule."""
    endpoint = await service.get_endpoint(session, endpoint_id, principal.sub)
    delivery = await service.get_delivery(session, endpoint_id, delivery_id)
    await service.redeliver(session, endpoint, delivery, actor=principal, now=clock.now())
    return await service.delivery_read(session, delivery)
