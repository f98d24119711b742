"""`PaymentsClient`: payments_mock's API as typed calls, over the app's one HTTP client and
its service token (client credentials at the gateway). Build it once per app, in the
lifespan (`PaymentsIntegration` does); by default it reaches payments_mock through the
gateway, like any client (`payments_url`)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel

from services.kit.errors import ServiceUnavailable
from services.kit.payments.errors import error_for, unreachable
from services.kit.payments.views import (
    Payment,
    PaymentMethod,
    PaymentPage,
    PaymentStatus,
    ProviderEvent,
    ProviderEventPage,
    WebhookEndpoint,
)
from services.kit.service_token import ServiceTokenProvider

ViewT = TypeVar("ViewT", bound=BaseModel)

_KEY_CHARS = re.compile(r"[^A-Za-z0-9-]")
MAX_KEY = 255


def idempotency_key(*parts: str) -> str:
    """An `Idempotency-Key` derived from the service's own record, e.g.
    `idempotency_key(application.id, "fee")` → `app-01J…-fee`: the same record always asks
    for the same payment, so a retried create never charges twice."""
    if not parts or not all(parts):
        raise ValueError("an idempotency key needs non-empty parts")
    key = _KEY_CHARS.sub("-", "-".join(parts))
    if len(key) > MAX_KEY:
        key = key[:190] + "-" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _normalised_key(key: str) -> str:
    return idempotency_key(key)


def _segment(value: str) -> str:
    return quote(value, safe="")


class PaymentsClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        token: ServiceTokenProvider,
    ) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self.token = token

    async def _call(
        self,
        method: str,
        path: str,
        action: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        idempotency_key: str | None = None,
        expect: tuple[int, ...] = (200, 201),
    ) -> httpx.Response:
        # Normalised here too: a record id such as `app_01J…` is a fine key once `_` is `-`.
        headers = {"Idempotency-Key": _normalised_key(idempotency_key)} if idempotency_key else {}
        try:
            response = await self.http.request(
                method,
                f"{self.base_url}{path}",
                json=json,
                params={k: v for k, v in (params or {}).items() if v is not None},
                headers=headers,
                auth=self.token.auth(),
            )
        except httpx.HTTPError as exc:
            raise unreachable(exc, action) from exc
        except ServiceUnavailable as exc:  # no service token: the gateway is down
            raise unreachable(exc, action) from exc
        if response.status_code not in expect:
            raise error_for(response, action)
        return response

    @staticmethod
    def _view(response: httpx.Response, view: type[ViewT]) -> ViewT:
        return view.model_validate_json(response.content)

    # --- payments --------------------------------------------------------------------------

    async def create_payment(
        self,
        *,
        idempotency_key: str,
        amount: int,
        method: PaymentMethod | str,
        description: str,
        reference: str | None = None,
        metadata: Mapping[str, str] | None = None,
        payer: Mapping[str, str | None] | None = None,
        expires_after_days: int | None = None,
        expires_at: datetime | date | None = None,
        card_number: str | None = None,
    ) -> Payment:
        """Creates (or, with the same key and fields, finds again) a payment. `description` is
        printed at the register (at most 22 characters); `reference` is the service's own id."""
        body: dict[str, Any] = {
            "amount": amount,
            "method": str(method),
            "description": description,
            "metadata": dict(metadata or {}),
        }
        if reference is not None:
            body["reference"] = reference
        if payer:
            body["payer"] = {k: v for k, v in payer.items() if v is not None}
        if expires_after_days is not None:
            body["expires_after_days"] = expires_after_days
        if expires_at is not None:
            body["expires_at"] = expires_at.isoformat()
        if card_number is not None:
            body["card"] = {"number": card_number}
        response = await self._call(
            "POST", "/v1/payments", "create a payment", json=body, idempotency_key=idempotency_key
        )
        return self._view(response, Payment)

    async def get_payment(self, payment_id: str) -> Payment:
        response = await self._call(
            "GET", f"/v1/payments/{_segment(payment_id)}", f"read payment {payment_id}"
        )
        return self._view(response, Payment)

    async def list_payments(
        self,
        *,
        reference: str | None = None,
        status: PaymentStatus | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> PaymentPage:
        """This service's own payments, oldest first, one page."""
        params = {
            "reference": reference,
            "status": status.value if status else None,
            "limit": limit,
            "cursor": cursor,
        }
        response = await self._call("GET", "/v1/payments", "list payments", params=params)
        return self._view(response, PaymentPage)

    async def find_by_reference(self, reference: str) -> list[Payment]:
        """Every payment this service created with `reference` (e.g. when a record lost the
        id of its payment), oldest first."""
        found: list[Payment] = []
        cursor: str | None = None
        while True:
            page = await self.list_payments(reference=reference, cursor=cursor)
            found.extend(page.items)
            if page.next_cursor is None:
                return found
            cursor = page.next_cursor

    async def events(self, payment_id: str) -> list[ProviderEvent]:
        """The payment's whole history at the provider, oldest first."""
        events: list[ProviderEvent] = []
        cursor: str | None = None
        path = f"/v1/payments/{_segment(payment_id)}/events"
        while True:
            response = await self._call(
                "GET",
                path,
                f"read the history of payment {payment_id}",
                params={"limit": 100, "cursor": cursor},
            )
            page = self._view(response, ProviderEventPage)
            events.extend(page.items)
            if page.next_cursor is None:
                return events
            cursor = page.next_cursor

    async def cancel(self, payment_id: str, *, reason: str | None = None) -> Payment:
        """Cancels an unpaid payment; 409 (IllegalTransition) once it is paid or final."""
        response = await self._call(
            "POST",
            f"/v1/payments/{_segment(payment_id)}/cancel",
            f"cancel payment {payment_id}",
            json={"reason": reason} if reason else None,
        )
        return self._view(response, Payment)

    async def refund(
        self,
        payment_id: str,
        *,
        amount: int,
        expected_refundable: int,
        idempotency_key: str,
        reason: str | None = None,
    ) -> Payment:
        """Refunds a settled payment. `expected_refundable` is what the service believes is
        still refundable: a stale view is refused (PaymentRefused naming the field)."""
        body: dict[str, Any] = {"amount": amount, "expected_refundable": expected_refundable}
        if reason:
            body["reason"] = reason
        response = await self._call(
            "POST",
            f"/v1/payments/{_segment(payment_id)}/refunds",
            f"refund payment {payment_id}",
            json=body,
            idempotency_key=idempotency_key,
        )
        return self._view(response, Payment)

    # --- webhook endpoints -----------------------------------------------------------------

    async def create_endpoint(self, url: str, *, description: str) -> WebhookEndpoint:
        response = await self._call(
            "POST",
            "/v1/webhook-endpoints",
            "register a webhook endpoint",
            json={"url": url, "description": description},
        )
        return self._view(response, WebhookEndpoint)

    async def get_endpoint(self, endpoint_id: str) -> WebhookEndpoint | None:
        response = await self._call(
            "GET",
            f"/v1/webhook-endpoints/{_segment(endpoint_id)}",
            "read a webhook endpoint",
            expect=(200, 404),
        )
        return None if response.status_code == 404 else self._view(response, WebhookEndpoint)

    async def list_endpoints(self) -> list[WebhookEndpoint]:
        endpoints: list[WebhookEndpoint] = []
        cursor: str | None = None
        while True:
            response = await self._call(
                "GET",
                "/v1/webhook-endpoints",
                "list webhook endpoints",
                params={"limit": 100, "cursor": cursor},
            )
            body = response.json()
            endpoints.extend(WebhookEndpoint.model_validate(e) for e in body["items"])
            cursor = body.get("next_cursor")
            if cursor is None:
                return endpoints

    async def update_endpoint(self, endpoint_id: str, *, url: str) -> WebhookEndpoint:
        response = await self._call(
            "PATCH",
            f"/v1/webhook-endpoints/{_segment(endpoint_id)}",
            "update a webhook endpoint",
            json={"url": url, "enabled": True},
        )
        return self._view(response, WebhookEndpoint)

    async def rotate_secret(self, endpoint_id: str, *, grace_hours: int) -> WebhookEndpoint:
        response = await self._call(
            "POST",
            f"/v1/webhook-endpoints/{_segment(endpoint_id)}/rotate-secret",
            "rotate a webhook secret",
            json={"grace_period_hours": grace_hours},
        )
        return self._view(response, WebhookEndpoint)

    async def delete_endpoint(self, endpoint_id: str) -> None:
        await self._call(
            "DELETE",
            f"/v1/webhook-endpoints/{_segment(endpoint_id)}",
            "delete a webhook endpoint",
            expect=(204, 404),
        )
