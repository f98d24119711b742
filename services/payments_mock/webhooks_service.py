"""Webhook endpoints and deliveries (Standard Webhooks), sent through the kit outbox.

An event is fanned out in the transaction that made it: one `WebhookDelivery` row per
subscribed endpoint plus one outbox message, so a committed event is always delivered (at least
once) and a rolled-back one never. The relay retries with `WEBHOOK_POLICY` (1 min, 5 min, 1 h,
1 d, 2 d, then failed); `WebhookSender` logs every attempt. Signatures follow Standard Webhooks:
`webhook-id` (the event id, the receiver's dedupe key), `webhook-timestamp` (wall-clock seconds,
so receivers can check freshness even while the service runs on a simulated clock) and
`webhook-signature` (`v1,<base64 HMAC-SHA256>`; during a rotation's grace period the old secret
signs too, space-separated).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import bindparam
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks.webhooks import Webhook

from services.kit import audit
from services.kit.auth import Principal
from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.errors import NotFound, UnprocessableContent
from services.kit.ids import new_id
from services.kit.outbox import (
    WEBHOOK_BACKOFF,
    OutboxHandler,
    Outcomes,
    RecordingHandler,
    RetryLater,
    TopicPolicy,
    Undeliverable,
    enqueue,
    per_message,
)
from services.kit.pagination import keyset_page
from services.kit.tables import OutboxMessage
from services.payments_mock.domain.webhook_states import DeliveryStatus, EndpointStatus
from services.payments_mock.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from services.payments_mock.schemas import (
    WebhookAttemptRead,
    WebhookDeliveryRead,
    WebhookEndpointCreate,
    WebhookEndpointRead,
    WebhookEndpointUpdate,
)
from services.payments_mock.settings import Settings

log = logging.getLogger("cityhall.payments_mock.webhooks")

SERVICE = "payments_mock"
WEBHOOK_TOPIC = "payments.webhook"
MAX_ATTEMPTS = len(WEBHOOK_BACKOFF) + 1  # the first try, then one per backoff step
WEBHOOK_POLICY = TopicPolicy(backoff=WEBHOOK_BACKOFF, max_attempts=MAX_ATTEMPTS)
PING = "ping"
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def check_url(url: str, settings: Settings) -> str:
    """http(s) to loopback or a configured host only: the mock must not be an open proxy."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise UnprocessableContent("url is not a valid URL", field="url") from None
    if parts.scheme not in ("http", "https") or not host:
        raise UnprocessableContent("url must be an http or https URL with a host", field="url")
    if parts.username or parts.password:
        raise UnprocessableContent("url must not carry credentials", field="url")
    if port == 0:
        raise UnprocessableContent("url has an invalid port", field="url")
    allowed = host in _LOOPBACK_NAMES or host in {h.lower() for h in settings.webhook_allowed_hosts}
    if not allowed:
        try:
            allowed = ipaddress.ip_address(host).is_loopback
        except ValueError:
            allowed = False
    if not allowed:
        raise UnprocessableContent(
            f"callback host {host} is not allowed: use loopback or a host listed in"
            " PAYMENTS_MOCK_WEBHOOK_ALLOWED_HOSTS",
            field="url",
        )
    return url


def endpoint_read(endpoint: WebhookEndpoint) -> WebhookEndpointRead:
    return WebhookEndpointRead.model_validate(endpoint, from_attributes=True)


async def get_endpoint(session: AsyncSession, endpoint_id: str, owner: str) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.owner != owner or endpoint.status == EndpointStatus.DELETED:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    return endpoint


async def list_endpoints(
    session: AsyncSession, owner: str, *, limit: int, cursor: str | None
) -> tuple[list[WebhookEndpoint], str | None]:
    query = select(WebhookEndpoint).where(
        col(WebhookEndpoint.owner) == owner, col(WebhookEndpoint.status) != EndpointStatus.DELETED
    )
    return await keyset_page(session, query, col(WebhookEndpoint.id), limit=limit, cursor=cursor)


async def _audit(
    session: AsyncSession,
    actor: Principal,
    action: str,
    target: str,
    now: datetime,
    changes: dict[str, Any],
) -> None:
    await audit.record(session, actor, action, target, service=SERVICE, now=now, changes=changes)


async def create_endpoint(
    session: AsyncSession,
    settings: Settings,
    body: WebhookEndpointCreate,
    *,
    actor: Principal,
    now: datetime,
) -> WebhookEndpoint:
    endpoint = WebhookEndpoint(
        id=new_id("we"),
        owner=actor.sub,
        url=check_url(body.url, settings),
        event_types=list(dict.fromkeys(body.event_types)),
        description=body.description,
        status=EndpointStatus.ENABLED,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )
    session.add(endpoint)
    await session.flush()
    event_id = new_id("evt")
    await _deliver(
        session,
        endpoint.id,
        endpoint.url,
        event_id=event_id,
        event_type=PING,
        body=_event_body(event_id, PING, {"endpoint_id": endpoint.id}, now),
        now=now,
    )
    await _audit(
        session,
        actor,
        "webhook_endpoint.created",
        endpoint.id,
        now,
        {"url": endpoint.url, "event_types": endpoint.event_types},
    )
    return endpoint


async def update_endpoint(
    session: AsyncSession,
    settings: Settings,
    endpoint: WebhookEndpoint,
    body: WebhookEndpointUpdate,
    *,
    actor: Principal,
    now: datetime,
) -> WebhookEndpoint:
    changes: dict[str, Any] = {}
    if body.url is not None:
        changes["url"] = [endpoint.url, check_url(body.url, settings)]
        endpoint.url = body.url
    if body.event_types is not None:
        types: list[str] = list(dict.fromkeys(body.event_types))
        changes["event_types"] = [endpoint.event_types, types]
        endpoint.event_types = types
    if body.description is not None:
        changes["description"] = [endpoint.description, body.description]
        endpoint.description = body.description
    if body.enabled is not None:
        status = EndpointStatus.ENABLED if body.enabled else EndpointStatus.DISABLED
        changes["status"] = [endpoint.status, status]
        endpoint.status = status
    endpoint.updated_at = now
    session.add(endpoint)
    await session.flush()
    await _audit(session, actor, "webhook_endpoint.updated", endpoint.id, now, changes)
    return endpoint


async def delete_endpoint(
    session: AsyncSession, endpoint: WebhookEndpoint, *, actor: Principal, now: datetime
) -> None:
    """Soft delete: the delivery log stays for audits; nothing is sent any more."""
    endpoint.status = EndpointStatus.DELETED
    endpoint.updated_at = now
    session.add(endpoint)
    await session.flush()
    await _audit(session, actor, "webhook_endpoint.deleted", endpoint.id, now, {})


async def rotate_secret(
    session: AsyncSession,
    settings: Settings,
    endpoint: WebhookEndpoint,
    *,
    grace_hours: int | None,
    actor: Principal,
    now: datetime,
) -> WebhookEndpoint:
    hours = settings.webhook_secret_grace_hours if grace_hours is None else grace_hours
    endpoint.previous_secret = endpoint.secret if hours > 0 else None
    endpoint.previous_secret_expires_at = now + timedelta(hours=hours) if hours > 0 else None
    endpoint.secret = new_secret()
    endpoint.updated_at = now
    session.add(endpoint)
    await session.flush()
    await _audit(
        session, actor, "webhook_endpoint.secret_rotated", endpoint.id, now, {"grace_hours": hours}
    )
    return endpoint


# --- deliveries ----------------------------------------------------------------------------


def _event_body(
    event_id: str, event_type: str, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {"id": event_id, "type": event_type, "timestamp": now.isoformat(), "data": data}


async def _enqueue(
    session: AsyncSession, url: str, delivery: WebhookDelivery, now: datetime
) -> None:
    """Queues `delivery` for `WebhookSender` with a fresh retry schedule."""
    await enqueue(
        session,
        WEBHOOK_TOPIC,
        {"delivery_id": delivery.id},
        now=now,
        destination=url,
        max_attempts=MAX_ATTEMPTS,
    )


async def _deliver(
    session: AsyncSession,
    endpoint_id: str,
    url: str,
    *,
    event_id: str,
    event_type: str,
    body: dict[str, Any],
    now: datetime,
) -> WebhookDelivery:
    delivery = WebhookDelivery(
        id=new_id("whd"),
        endpoint_id=endpoint_id,
        event_id=event_id,
        event_type=event_type,
        payload=body,
        status=DeliveryStatus.PENDING,
        attempts=0,
        created_at=now,
    )
    session.add(delivery)  # written at the next flush, with the outbox row
    await _enqueue(session, url, delivery, now)
    return delivery


# Every event of every payment asks this, so the statement is built once; only the columns the
# fan-out uses are read (no ORM objects for endpoints that do not subscribe).
_SUBSCRIBERS = select(
    col(WebhookEndpoint.id), col(WebhookEndpoint.url), col(WebhookEndpoint.event_types)
).where(
    col(WebhookEndpoint.owner) == bindparam("owner"),
    col(WebhookEndpoint.status) == EndpointStatus.ENABLED,
)


async def fan_out(
    session: AsyncSession,
    *,
    owner: str,
    event_id: str,
    event_type: str,
    data: Callable[[], dict[str, Any]],
    now: datetime,
) -> int:
    """One delivery per enabled endpoint of `owner` subscribed to `event_type`. `data` builds
    the event's data, only when some endpoint is subscribed."""
    endpoints = (await session.exec(_SUBSCRIBERS, params={"owner": owner})).all()
    subscribed = [(id_, url) for id_, url, types in endpoints if event_type in types]
    if not subscribed:
        return 0
    body = _event_body(event_id, event_type, data(), now)
    for endpoint_id, url in subscribed:
        await _deliver(
            session,
            endpoint_id,
            url,
            event_id=event_id,
            event_type=event_type,
            body=body,
            now=now,
        )
    return len(subscribed)


async def attempts_of(
    session: AsyncSession, delivery_ids: Sequence[str]
) -> dict[str, list[WebhookAttemptRead]]:
    if not delivery_ids:
        return {}
    rows = (
        await session.exec(
            select(WebhookAttempt)
            .where(col(WebhookAttempt.delivery_id).in_(list(delivery_ids)))
            .order_by(col(WebhookAttempt.delivery_id), col(WebhookAttempt.number))
        )
    ).all()
    result: dict[str, list[WebhookAttemptRead]] = {d: [] for d in delivery_ids}
    for row in rows:
        result[row.delivery_id].append(WebhookAttemptRead.model_validate(row, from_attributes=True))
    return result


async def list_deliveries(
    session: AsyncSession,
    endpoint_id: str,
    *,
    status: str | None,
    event_type: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[WebhookDeliveryRead], str | None]:
    query = select(WebhookDelivery).where(col(WebhookDelivery.endpoint_id) == endpoint_id)
    if status is not None:
        query = query.where(col(WebhookDelivery.status) == status)
    if event_type is not None:
        query = query.where(col(WebhookDelivery.event_type) == event_type)
    rows, next_cursor = await keyset_page(
        session, query, col(WebhookDelivery.id), limit=limit, cursor=cursor
    )
    attempts = await attempts_of(session, [r.id for r in rows])
    items = [
        WebhookDeliveryRead.model_validate(r, from_attributes=True).model_copy(
            update={"attempt_log": attempts.get(r.id, [])}
        )
        for r in rows
    ]
    return items, next_cursor


async def get_delivery(
    session: AsyncSession, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    delivery = await session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise NotFound(f"no delivery {delivery_id} for endpoint {endpoint_id}")
    return delivery


async def delivery_read(session: AsyncSession, delivery: WebhookDelivery) -> WebhookDeliveryRead:
    attempts = await attempts_of(session, [delivery.id])
    return WebhookDeliveryRead.model_validate(delivery, from_attributes=True).model_copy(
        update={"attempt_log": attempts[delivery.id]}
    )


async def redeliver(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    *,
    actor: Principal,
    now: datetime,
) -> WebhookDelivery:
    """Sends the same event (same `webhook-id`) again, with a fresh retry schedule."""
    if endpoint.status != EndpointStatus.ENABLED:
        raise UnprocessableContent("enable the endpoint before redelivering", field="enabled")
    delivery.status = DeliveryStatus.PENDING
    session.add(delivery)
    await session.flush()
    await _enqueue(session, endpoint.url, delivery, now)
    await _audit(
        session, actor, "webhook_delivery.redelivered", delivery.id, now, {"endpoint": endpoint.id}
    )
    return delivery


def signature(
    endpoint: WebhookEndpoint, msg_id: str, sent_at: datetime, body: str, now: datetime
) -> str:
    signatures = [Webhook(endpoint.secret).sign(msg_id, sent_at, body)]
    grace = endpoint.previous_secret_expires_at
    if endpoint.previous_secret and grace is not None and grace > now:
        signatures.append(Webhook(endpoint.previous_secret).sign(msg_id, sent_at, body))
    return " ".join(signatures)


@dataclass(frozen=True, slots=True)
class _Attempt:
    delivery_id: str
    status: int | None
    latency_ms: float
    error: str | None
    final: bool


class WebhookSender:
    """The outbox handler of `WEBHOOK_TOPIC`: signs and POSTs each delivery, then logs every
    attempt in the relay's settle transaction (no write transaction of its own)."""

    def __init__(
        self, db: Database, clock: Clock, http: httpx.AsyncClient, settings: Settings
    ) -> None:
        self.db = db
        self.clock = clock
        self.http = http
        self.timeout = httpx.Timeout(settings.webhook_timeout_seconds, connect=3.0)
        self._attempts: dict[str, _Attempt] = {}  # by outbox message id, until recorded

    def handler(self) -> OutboxHandler:
        return RecordingHandler(per_message(self.deliver), self.record)

    async def deliver(self, message: OutboxMessage) -> None:
        delivery_id = str(message.payload.get("delivery_id", ""))
        now = self.clock.now()
        async with self.db.session(write=False) as session:
            found = (
                await session.exec(
                    select(WebhookDelivery, WebhookEndpoint)
                    .join(WebhookEndpoint, col(WebhookEndpoint.id) == WebhookDelivery.endpoint_id)
                    .where(col(WebhookDelivery.id) == delivery_id)
                )
            ).first()
        if found is None:
            raise Undeliverable(f"delivery {delivery_id} no longer exists")
        delivery, endpoint = found
        if endpoint.status != EndpointStatus.ENABLED:
            refused = f"endpoint is {endpoint.status}"
            self._attempts[message.id] = _Attempt(delivery.id, None, 0.0, refused, final=True)
            raise Undeliverable(f"endpoint {endpoint.id} is {endpoint.status}")
        body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False)
        # The wall clock, not the simulated one: receivers check freshness against theirs.
        sent_at = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": signature(endpoint, delivery.event_id, sent_at, body, now),
        }
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            response = await self.http.post(
                endpoint.url, content=body.encode(), headers=headers, timeout=self.timeout
            )
            status = response.status_code
            if not 200 <= status < 300:
                error = f"endpoint answered {status}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__
        latency_ms = (time.perf_counter() - started) * 1000
        final = error is not None and message.attempts >= (message.max_attempts or MAX_ATTEMPTS)
        self._attempts[message.id] = _Attempt(delivery.id, status, latency_ms, error, final)
        if error is not None:
            raise RetryLater(error)

    async def record(
        self,
        session: AsyncSession,
        messages: Sequence[OutboxMessage],
        outcomes: Outcomes,
    ) -> None:
        """The attempt log of this batch, in the relay's settle transaction."""
        now = self.clock.now()
        for message in messages:
            attempt = self._attempts.pop(message.id, None)
            if attempt is None:
                continue
            row = await session.get(WebhookDelivery, attempt.delivery_id, with_for_update=True)
            if row is None:
                continue
            row.attempts += 1
            session.add(
                WebhookAttempt(
                    id=new_id("wha"),
                    delivery_id=row.id,
                    number=row.attempts,
                    attempted_at=now,
                    status_code=attempt.status,
                    latency_ms=round(attempt.latency_ms, 3),
                    error=attempt.error,
                    succeeded=attempt.error is None,
                )
            )
            row.last_status_code = attempt.status
            row.last_error = attempt.error
            if attempt.error is None:
                row.status = DeliveryStatus.SUCCEEDED
                row.delivered_at = now
            elif attempt.final:
                row.status = DeliveryStatus.FAILED
            session.add(row)
        await session.flush()
