"""`AccessAuditMiddleware`: one access record per request, queued, never awaited, and
built only when the writer takes it.

Pure ASGI, outermost, so it sees the final status of everything: proxied requests, the
gateway's own routes, and refusals (401, 429) made before a request is forwarded.

- Route: for a routed path, the routing prefix followed by the rest of the path with ids
  masked (`/v1/payments/{id}/refund`, see `events.mask_path`), since the service's own route
  table is not known here; for the gateway's own routes, FastAPI's route template.
- Actor: the principal a verified token gave (set in the scope by the proxy, the rate
  limiter or a route's auth dependency); none for anonymous or refused tokens.
- Client IP: the peer address; the first `X-Forwarded-For` entry only when
  `trust_forwarded_headers` is on.
- Request id: the `X-Request-ID` of the response (the gateway always sets one).
"""

from __future__ import annotations

import time
from datetime import datetime
from functools import partial

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.audit_log.events import ChainEntry, access_entry, mask_path, route_template
from gateway.audit_log.store import AuditLog
from gateway.headers import client_ip, header_value
from gateway.routing import RouteMatch
from gateway.runtime import GatewayRuntime
from services.kit.auth import Principal


class AccessAuditMiddleware:
    def __init__(self, app: ASGIApp, *, runtime: GatewayRuntime, audit: AuditLog) -> None:
        self.app = app
        self.runtime = runtime
        self.audit = audit
        self.skip = frozenset(audit.settings.skip_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.skip:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        request_id: str | None = None

        async def send_observed(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = int(message["status"])
                raw = header_value(message.get("headers", []), b"x-request-id")
                request_id = raw.decode("latin-1")[:128] if raw else None
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        finally:
            self._record(scope, status, request_id, time.perf_counter() - started)

    def _record(self, scope: Scope, status: int, request_id: str | None, elapsed: float) -> None:
        """Takes from the request what the record needs and queues the rest of the work for
        the writer: building the record here would delay the client's next request, which
        often arrives while this runs (and, on this VM, runs slowest just after a response
        that the gateway waited milliseconds for)."""
        match = self.runtime.routes.match_scope(scope)  # the proxy's, usually
        template = None if match is not None else getattr(scope.get("route"), "path", None)
        state = scope.get("state") or {}
        principal = state.get("principal")
        if request_id is None:
            request_id = state.get("request_id")
        self.audit.record_access(
            partial(
                _entry,
                self.runtime.clock.now(),
                scope["path"],
                match,
                template if isinstance(template, str) else None,
                principal if isinstance(principal, Principal) else None,
                client_ip(scope, trust_forwarded=self.runtime.settings.trust_forwarded_headers),
                scope["method"],
                status,
                elapsed,
                request_id,
            )
        )


def _entry(
    recorded_at: datetime,
    path: str,
    match: RouteMatch | None,
    template: str | None,
    principal: Principal | None,
    ip: str | None,
    method: str,
    status: int,
    elapsed: float,
    request_id: str | None,
) -> ChainEntry:
    if match is not None:
        route, service = route_template(match.prefix, path), match.service
    else:
        route, service = (template or mask_path(path)), "gateway"
    return access_entry(
        recorded_at=recorded_at,
        actor=principal.sub if principal else None,
        actor_kind=principal.kind if principal else None,
        roles=sorted(principal.roles) if principal else [],
        client_ip=ip,
        method=method,
        route=route,
        service=service,
        status=status,
        latency_ms=round(elapsed * 1000),
        request_id=request_id,
    )
