"""`RateLimitMiddleware`: pure ASGI, between the access audit and the proxy.

It counts two kinds of request: the `auth` paths (token, login, registration, e-mail links;
by client address, they come before a token) and proxied requests (`read` for GET, HEAD and
OPTIONS, else `write`; by principal when a valid token came, else by client address). The
gateway's other routes (probes, JWKS, audit, docs) are not limited.

For proxied requests it also verifies the bearer token (`gateway.bearer`), since the bucket
depends on it: a bad token is answered 401 after it was counted against the client address,
so a flood of forged tokens is throttled like any anonymous traffic. Refused requests get a
429 problem with `Retry-After`; every counted response carries `RateLimit-*` headers.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.asgi_problems import send_app_error
from gateway.bearer import authenticate
from gateway.headers import client_ip, request_id_from
from gateway.rate_limit.bucket import Decision
from gateway.rate_limit.limiter import proxied_class
from gateway.rate_limit.settings import RouteClass
from gateway.runtime import GatewayRuntime
from services.kit.auth import Principal
from services.kit.context import request_id_var
from services.kit.errors import AppError, TooManyRequests


def rate_limited(decision: Decision) -> TooManyRequests:
    rule = decision.rule
    return TooManyRequests(
        decision.retry_after,
        decision.describe(),
        rate_limit={
            "class": decision.route_class,
            "key": decision.key_kind,
            "burst": rule.burst,
            "rate_per_second": rule.rate,
        },
    )


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, *, runtime: GatewayRuntime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        limiter = self.runtime.rate_limiter
        if scope["type"] != "http" or limiter is None:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        route = path
        route_class: RouteClass
        principal: Principal | None = None
        refusal: AppError | None = None
        if path in limiter.auth_paths:
            route_class = "auth"
        else:
            match = self.runtime.routes.match_scope(scope)
            if match is None:
                await self.app(scope, receive, send)
                return
            route = f"{match.prefix}/*"
            route_class = proxied_class(scope["method"])
            try:
                principal = await authenticate(scope, self.runtime.verifier)
            except AppError as exc:
                refusal = exc
        ip = client_ip(scope, trust_forwarded=self.runtime.settings.trust_forwarded_headers)
        decision = await limiter.check(route_class, principal, ip)
        if decision is not None and not decision.allowed:
            refusal = rate_limited(decision)
        if refusal is not None:
            request_id = request_id_from(scope["headers"])
            request_id_var.set(request_id)
            extra = decision.headers() if decision is not None else []
            await send_app_error(send, refusal, request_id, extra)
            self.runtime.metrics.observe(scope["method"], route, refusal.status, 0.0)
            return
        if decision is None:
            await self.app(scope, receive, send)
            return
        limit_headers = decision.headers()

        async def send_with_limits(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", ()), *limit_headers]}
            await send(message)

        await self.app(scope, receive, send_with_limits)
