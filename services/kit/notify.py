"""Templated mail to a resident, through alert_mail and the outbox (DESIGN 3).

`enqueue_notification` puts the request in the kit outbox in the caller's transaction: it
exists exactly when the change it announces was committed, and a down alert_mail loses
nothing. `NotifySender` is the relay's handler of `NOTIFY_TOPIC`: it POSTs to alert_mail's
`/v1/notifications` with the service token and `Idempotency-Key` derived from the outbox
message id, so a retry after a lost answer replays alert_mail's first answer instead of
mailing twice (alert_mail keeps keys 24 h, longer than the relay retries).

Wire it with `outbox_handlers=lambda runtime: notify_handlers(runtime)` in the ServiceSpec
(merge the dict with the service's own handlers, if any)."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.app import ServiceRuntime
from services.kit.errors import AppError, UnprocessableContent
from services.kit.outbox import OutboxHandler, RetryLater, Undeliverable, enqueue, per_message
from services.kit.service_token import ServiceTokenProvider
from services.kit.tables import OutboxMessage

log = logging.getLogger("cityhall.notify")

NOTIFY_TOPIC = "notify.email"
NOTIFICATIONS_PATH = "/v1/notifications"
_TEMPLATE_ID = re.compile(r"tpl_[A-Za-z0-9_]{1,60}")
_EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]+\.[^@\s]+")
_KEY_CHARS = re.compile(r"[^A-Za-z0-9-]")


async def enqueue_notification(
    session: AsyncSession,
    *,
    template_id: str,
    email_address: str,
    personalisation: Mapping[str, Any],
    reference: str | None = None,
    now: datetime,
) -> str:
    """Queues one mail from an alert_mail template (e.g. `tpl_e_application_received`) in the
    caller's transaction; returns the outbox message id. The template's language is the
    mail's language; `reference` (the service's record id) finds the notification again at
    alert_mail (`GET /v1/notifications?reference=`)."""
    if not _TEMPLATE_ID.fullmatch(template_id):
        raise ValueError(f"not a template id: {template_id!r}")
    if len(email_address) > 254 or not _EMAIL.fullmatch(email_address):
        raise UnprocessableContent("not a mail address", field="email_address")
    body: dict[str, Any] = {
        "email_address": email_address,
        "template_id": template_id,
        "personalisation": dict(personalisation),
    }
    if reference is not None:
        body["reference"] = reference
    return await enqueue(session, NOTIFY_TOPIC, body, now=now)


def idempotency_key(message: OutboxMessage) -> str:
    return _KEY_CHARS.sub("-", message.id)


def _retry_after(response: httpx.Response) -> timedelta | None:
    value = response.headers.get("retry-after", "")
    return timedelta(seconds=int(value)) if value.isdigit() else None


def _detail(response: httpx.Response) -> str:
    try:
        problem = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if isinstance(problem, dict):
        text = str(problem.get("detail") or problem.get("title") or "")
        errors = problem.get("errors")
        return f"{text} {errors}" if errors else text
    return f"HTTP {response.status_code}"


class NotifySender:
    def __init__(
        self, http: httpx.AsyncClient, *, base_url: str, token: ServiceTokenProvider
    ) -> None:
        self.http = http
        self.url = base_url.rstrip("/") + NOTIFICATIONS_PATH
        self.token = token

    def handler(self) -> OutboxHandler:
        return per_message(self.deliver)

    async def deliver(self, message: OutboxMessage) -> None:
        try:
            response = await self.http.post(
                self.url,
                json=message.payload,
                headers={"Idempotency-Key": idempotency_key(message)},
                auth=self.token.auth(),
            )
        except httpx.HTTPError as exc:
            raise RetryLater(f"alert_mail unreachable: {type(exc).__name__}") from exc
        except AppError as exc:  # no service token: the gateway is down
            raise RetryLater(exc.detail) from exc
        status = response.status_code
        if status in (200, 201):
            return
        detail = f"alert_mail answered {status}: {_detail(response)}"
        if status in (400, 422):
            # The template or the values are wrong: retrying the same request cannot help.
            raise Undeliverable(detail)
        # 401/403/404: a deployment problem that may be fixed; 409: the same key is still in
        # flight; 429 and 5xx: temporary.
        raise RetryLater(detail, after=_retry_after(response))


def notify_handlers(runtime: ServiceRuntime) -> dict[str, OutboxHandler]:
    sender = NotifySender(
        runtime.http, base_url=runtime.settings.notify_url, token=runtime.service_token
    )
    return {NOTIFY_TOPIC: sender.handler()}
