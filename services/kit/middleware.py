"""Pure-ASGI middleware (no Starlette HTTP-middleware base class): request id, access log,
metrics, limits."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.context import request_id_var, traceparent_var
from services.kit.errors import PayloadTooLarge
from services.kit.metrics import Metrics
from services.kit.problems import PROBLEM_JSON, problem_body

access_log = logging.getLogger("cityhall.access")
error_log = logging.getLogger("cityhall.errors")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def send_problem(send: Send, status: int, detail: str, request_id: str, **extra: Any) -> None:
    body = json.dumps(
        problem_body(status, detail=detail, request_id=request_id, extensions=extra)
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class RequestContextMiddleware:
    """Accepts or creates `X-Request-ID`, echoes it, logs one access line, counts metrics,
    and refuses oversized bodies and NUL bytes in the URL before any handler runs."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        service: str,
        metrics: Metrics | None = None,
        max_body_bytes: int = 1_048_576,
        log_access: bool = True,
    ) -> None:
        self.app = app
        self.service = service
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.log_access = log_access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request_id_var.set(request_id)
        traceparent = _header(scope, b"traceparent")
        traceparent_var.set(
            traceparent if traceparent and _TRACEPARENT.match(traceparent) else None
        )
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder = [500]
        response_started = [False]
        raw_id = request_id.encode()

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response_started[0] = True
                status_holder[0] = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", raw_id))
                message = {**message, "headers": headers}
            await send(message)

        try:
            raw_path = scope.get("raw_path") or scope["path"].encode()
            if any(
                b"\x00" in part or b"%00" in part
                for part in (raw_path, scope.get("query_string", b""))
            ):
                await send_problem(
                    send_with_id, 400, "NUL bytes are not allowed in the URL", request_id
                )
                return
            declared = _header(scope, b"content-length")
            if declared is not None and (
                not declared.isdigit() or int(declared) > self.max_body_bytes
            ):
                await send_problem(
                    send_with_id,
                    413,
                    f"request body exceeds {self.max_body_bytes} bytes",
                    request_id,
                    max_bytes=self.max_body_bytes,
                )
                return
            try:
                await self.app(scope, self._limited(receive), send_with_id)
            except Exception:
                # Answer here rather than in Starlette's outermost error middleware, so the
                # 500 still carries the request id; the details go to the log only.
                error_log.exception("unhandled error in request %s", request_id)
                if response_started[0]:
                    raise
                await send_problem(
                    send_with_id,
                    500,
                    "an unexpected error occurred; quote the instance id",
                    request_id,
                )
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            if self.metrics is not None:
                self.metrics.observe(scope["method"], template, status_holder[0], elapsed)
            if self.log_access:
                access_log.info(
                    "%s %s %s %d %.1fms",
                    request_id,
                    scope["method"],
                    template,
                    status_holder[0],
                    elapsed * 1000,
                )

    def _limited(self, receive: Receive) -> Receive:
        limit = self.max_body_bytes
        seen = 0

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(f"request body exceeds {limit} bytes", max_bytes=limit)
            return message

        return limited_receive
