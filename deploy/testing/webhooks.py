"""A webhook receiver for tests: a real HTTP server on a free loopback port (payments_mock only
calls loopback or allow-listed hosts), with one inbox per test at `/hooks/<id>`. An inbox
keeps every delivery with its Standard Webhooks signature checked, can be told to fail (answer
an error status, every time or the next few times), and wakes a waiting test on each
arrival."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from deploy.arrivals import Arrivals

DEFAULT_TIMEOUT = 10.0
PING = "ping"  # what payments_mock sends a new endpoint at once


class WebhookNotReceived(AssertionError):
    """No matching delivery arrived in time; the message lists what did arrive."""


@dataclass(frozen=True, slots=True)
class Delivery:
    webhook_id: str | None
    type: str | None
    body: bytes
    headers: dict[str, str]
    verified: bool | None  # None: no secret known to check against
    answered: int  # the status the receiver answered with

    def json(self) -> dict[str, Any]:
        payload: dict[str, Any] = json.loads(self.body)
        return payload


@dataclass(slots=True)
class Inbox:
    url: str
    secret: str | None = None
    endpoint_id: str | None = None  # when registered at payments_mock by `register`
    deliveries: list[Delivery] = field(default_factory=list)
    arrivals: Arrivals = field(default_factory=Arrivals)
    _failing: tuple[int, int | None] | None = None  # (status, times left or None: always)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, status: int = 500, *, times: int | None = None) -> None:
        """Answer `status` to every delivery (or to the next `times`) instead of 204."""
        if not 400 <= status <= 599:
            raise ValueError("a failing receiver answers a 4xx or 5xx status")
        with self._lock:
            self._failing = (status, times)

    def recover(self) -> None:
        with self._lock:
            self._failing = None

    def _answer(self) -> int:
        with self._lock:
            if self._failing is None:
                return 204
            status, times = self._failing
            if times is not None:
                self._failing = (status, times - 1) if times > 1 else None
            return status

    def _verify(self, body: bytes, headers: dict[str, str]) -> bool | None:
        if self.secret is None:
            return None
        from standardwebhooks import Webhook

        try:
            Webhook(self.secret).verify(body, headers)
        except Exception:  # the library raises its own WebhookVerificationError
            return False
        return True

    def record(self, body: bytes, headers: dict[str, str]) -> int:
        status = self._answer()
        try:
            kind = json.loads(body).get("type")
        except (ValueError, AttributeError):
            kind = None
        delivery = Delivery(
            webhook_id=headers.get("webhook-id"),
            type=kind if isinstance(kind, str) else None,
            body=body,
            headers=headers,
            verified=self._verify(body, headers),
            answered=status,
        )
        with self._lock:
            self.deliveries.append(delivery)
        self.arrivals.notify()
        return status

    def matching(self, type: str | None) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if type is None or d.type == type]

    async def wait_for_all(
        self, count: int, *, type: str | None = None, within: float = DEFAULT_TIMEOUT
    ) -> list[Delivery]:
        """The first `count` deliveries (of event `type`), as soon as they have arrived."""

        def enough() -> list[Delivery] | None:
            found = self.matching(type)
            return found[:count] if len(found) >= count else None

        found = await self.arrivals.wait_until(enough, within)
        if found is None:
            seen = [d.type for d in self.matching(None)]
            raise WebhookNotReceived(
                f"fewer than {count} {type or 'any'} deliveries in {within:.0f} s; got {seen}"
            )
        return found

    async def wait_for(
        self, type: str | None = None, *, within: float = DEFAULT_TIMEOUT
    ) -> Delivery:
        """The first delivery (of event `type`, e.g. `payment.succeeded`)."""
        (delivery,) = await self.wait_for_all(1, type=type, within=within)
        return delivery

    async def register(
        self, client: httpx.AsyncClient, event_types: list[str] | None = None
    ) -> dict[str, Any]:
        """Registers this inbox at payments_mock as `client` (scope `webhooks:manage`), keeps
        the signing secret to check deliveries with, and returns once payments_mock's `ping`
        has arrived (so a `fail()` set next applies to the events that follow)."""
        body: dict[str, Any] = {"url": self.url, "description": "pytest inbox"}
        if event_types is not None:
            body["event_types"] = event_types
        answer = await client.post("/v1/webhook-endpoints", json=body)
        if answer.status_code != 201:
            raise AssertionError(f"registering {self.url}: {answer.status_code} {answer.text}")
        endpoint: dict[str, Any] = answer.json()
        self.secret = endpoint["secret"]
        self.endpoint_id = endpoint["id"]
        await self.wait_for(PING)
        return endpoint


class WebhookReceiver:
    """The ASGI app behind every inbox of the session."""

    def __init__(self) -> None:
        self.base_url = ""
        self._inboxes: dict[str, Inbox] = {}
        self._lock = threading.Lock()

    def open(self) -> Inbox:
        key = uuid.uuid4().hex
        inbox = Inbox(url=f"{self.base_url}/hooks/{key}")
        with self._lock:
            self._inboxes[key] = inbox
        return inbox

    def close(self, inbox: Inbox) -> None:
        with self._lock:
            self._inboxes.pop(inbox.url.rsplit("/", 1)[-1], None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        parts = scope["path"].strip("/").split("/")
        with self._lock:
            inbox = self._inboxes.get(parts[1]) if len(parts) == 2 and parts[0] == "hooks" else None
        body = await Request(scope, receive).body()
        if inbox is None or scope["method"] != "POST":
            status = 404
        else:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            status = inbox.record(body, headers)
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})
