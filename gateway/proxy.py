"""The reverse proxy: pure ASGI in front of the gateway's own FastAPI app.

A request whose path falls under a routed prefix (longest prefix, segment boundary) goes to
its service; every other request falls through to the gateway's own routes. A bearer token is
verified before anything is forwarded (a bad one never reaches a service), here unless the
rate limiter did it already; requests without a token pass through and the service decides.
The service verifies the token again: Authorization is forwarded untouched.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.asgi_problems import send_app_error
from gateway.bearer import authenticate
from gateway.headers import header_value, request_id_from, upstream_request_headers
from gateway.routing import RouteMatch
from gateway.runtime import GatewayRuntime
from gateway.upstreams import ProxyRequest
from services.kit.context import request_id_var
from services.kit.errors import AppError

access_log = logging.getLogger("cityhall.access")
log = logging.getLogger("cityhall.gateway.proxy")


def _has_body(scope: Scope) -> bool:
    headers = scope["headers"]
    length = header_value(headers, b"content-length")
    if length is not None:
        return length.strip() != b"0"
    return header_value(headers, b"transfer-encoding") is not None


class ProxyMiddleware:
    def __init__(self, app: ASGIApp, *, runtime: GatewayRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        match = self.runtime.routes.match_scope(scope)
        if match is None:
            await self.app(scope, receive, send)
            return
        await self._proxy(scope, receive, send, match)

    async def _proxy(self, scope: Scope, receive: Receive, send: Send, match: RouteMatch) -> None:
        started = time.perf_counter()
        request_id = request_id_from(scope["headers"])
        request_id_var.set(request_id)
        status = 500

        async def send_observed(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await authenticate(scope, self.runtime.verifier)
            client = scope.get("client")
            request = ProxyRequest(
                scope=scope,
                receive=receive,
                headers=upstream_request_headers(
                    scope["headers"],
                    request_id=request_id,
                    client_host=client[0] if client else None,
                    scheme=scope.get("scheme", "http"),
                    trust_forwarded=self.runtime.settings.trust_forwarded_headers,
                ),
                request_id=request_id,
                has_body=_has_body(scope),
            )
            await self.runtime.upstream(match.service).forward(request, send_observed)
        except AppError as exc:
            if exc.status >= 500:
                log.warning("%s %s -> %s: %s", request_id, scope["path"], match.service, exc)
            await send_app_error(send_observed, exc, request_id)
        finally:
            elapsed = time.perf_counter() - started
            route = f"{match.prefix}/*"
            self.runtime.metrics.observe(scope["method"], route, status, elapsed)
            if self.runtime.settings.log_access:
                access_log.info(
                    "%s %s %s -> %s %d %.1fms",
                    request_id,
                    scope["method"],
                    route,
                    match.service,
                    status,
                    elapsed * 1000,
                )
