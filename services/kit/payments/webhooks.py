"""The intake of payments_mock's signed webhooks (Standard Webhooks).

`POST /webhooks/payments` is `Public`: it is authenticated by the signature, checked with the
`standardwebhooks` library against the secret this service registered, before any write lock
is taken. A missing or malformed header is a 400 problem, a bad signature or a stale timestamp
(more than five minutes off) a 401; until the service has registered (no secret yet) it is a
503, so the provider retries. The event is recorded in the kit inbox under its `webhook-id` in
the SAME transaction as the service's handler: a redelivery, or the reconciler having applied
the event already, finds it there and is acknowledged without calling the handler again; a
handler that raises rolls both back, and the provider retries. The answer is a quick 204."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.responses import Response

from services.kit.auth import Public
from services.kit.clock import Clock
from services.kit.deps import ClockDep, SessionDep, get_db
from services.kit.errors import BadRequest, ServiceUnavailable, Unauthorized
from services.kit.inbox import first_delivery
from services.kit.payments.errors import PROVIDER
from services.kit.payments.registration import webhook_secret
from services.kit.payments.views import PaymentEvent, PaymentEventType
from services.kit.settings import PAYMENTS_WEBHOOK_PATH

log = logging.getLogger("cityhall.payments.webhooks")

# (session, event, now): `now` is the service's own clock, not the provider's event time.
PaymentEventHandler = Callable[[AsyncSession, PaymentEvent, datetime], Awaitable[None]]
REQUIRED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
MAX_ID = 255


class WebhookMalformed(BadRequest):
    slug = "webhook-malformed"
    title = "The webhook request is malformed"


class WebhookSignatureInvalid(Unauthorized):
    slug = "webhook-signature-invalid"
    title = "The webhook signature does not verify"


class WebhookNotRegistered(ServiceUnavailable):
    slug = "webhook-not-registered"
    title = "This service has not registered its webhook endpoint yet"


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """The verified JSON body; WebhookMalformed / WebhookSignatureInvalid otherwise."""
    lowered = {k.lower(): v for k, v in headers.items()}
    missing = [name for name in REQUIRED_HEADERS if not lowered.get(name)]
    if missing:
        raise WebhookMalformed(f"missing header {missing[0]}", header=missing[0])
    if len(lowered["webhook-id"]) > MAX_ID:
        raise WebhookMalformed("webhook-id is too long", header="webhook-id")
    try:
        Webhook(secret).verify(body, lowered, json_parse=False)
    except WebhookVerificationError as exc:
        raise WebhookSignatureInvalid(f"the webhook does not verify: {exc}") from None
    except ValueError:  # a garbled signature list, base64 or body encoding
        raise WebhookSignatureInvalid("the webhook signature is garbled") from None
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookMalformed("the signed body is not JSON") from None
    if not isinstance(payload, dict):
        raise WebhookMalformed("the signed body is not a JSON object")
    return payload


def event_from_webhook(webhook_id: str, payload: Mapping[str, Any]) -> PaymentEvent | None:
    """The typed event of a verified body; None for a ping or an event type we do not know."""
    kind = payload.get("type")
    if kind not in {t.value for t in PaymentEventType}:
        return None
    data = payload.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise WebhookMalformed("the event carries no payment object")
    snapshot = data["object"]
    try:
        return PaymentEvent.model_validate(
            {
                "id": webhook_id,
                "type": kind,
                "status": snapshot.get("status"),
                "occurred_at": payload.get("timestamp"),
                "payment": snapshot,
                "data": {k: v for k, v in data.items() if k != "object"},
                "source": "webhook",
            }
        )
    except ValidationError as exc:
        raise WebhookMalformed(f"the event does not read as a payment event: {exc}") from None


async def receive(
    session: AsyncSession,
    handler: PaymentEventHandler,
    webhook_id: str,
    payload: Mapping[str, Any],
    *,
    clock: Clock,
    provider: str = PROVIDER,
) -> bool:
    """Applies a verified webhook once; False when it had been processed before."""
    event = event_from_webhook(webhook_id, payload)
    now = clock.now()
    if not await first_delivery(session, webhook_id, source=provider, now=now):
        return False
    if event is not None:
        await handler(session, event, now)
    return True


class VerifiedWebhook:
    __slots__ = ("id", "payload")

    def __init__(self, webhook_id: str, payload: dict[str, Any]) -> None:
        self.id = webhook_id
        self.payload = payload


async def verified_webhook(request: Request) -> VerifiedWebhook:
    """Reads the secret in a read session: a forged request never takes the write lock."""
    async with get_db(request).session(write=False) as session:
        secret = await webhook_secret(session, PROVIDER)
    if secret is None:
        raise WebhookNotRegistered("the webhook endpoint is being registered; retry later")
    body = await request.body()
    payload = verify(secret, body, request.headers)
    return VerifiedWebhook(request.headers["webhook-id"], payload)


Verified = Annotated[VerifiedWebhook, Depends(verified_webhook)]


def webhook_router(handler: PaymentEventHandler, *, path: str = PAYMENTS_WEBHOOK_PATH) -> APIRouter:
    """The route payments_mock delivers to; include it in the service's routers."""
    router = APIRouter(tags=["payment webhooks"])

    @router.post(
        path,
        status_code=204,
        response_class=Response,
        summary="Receive a payment event (Standard Webhooks, signed by payments_mock)",
    )
    async def payment_webhook(
        _: Public, webhook: Verified, session: SessionDep, clock: ClockDep
    ) -> Response:
        applied = await receive(session, handler, webhook.id, webhook.payload, clock=clock)
        if not applied:
            log.info("webhook %s was processed before; acknowledged again", webhook.id)
        return Response(status_code=204)

    return router
