"""CORS for browser front-ends on another origin (pure ASGI: Starlette's CORSMiddleware).

It sits in front of everything, so a preflight is answered for every path (routed or the
gateway's own) before the rate limiter or the proxy see it, and every answer, a 429 or a 502
included, carries the headers a page needs to read it. Tokens travel in `Authorization`, never
in cookies, so credentials mode stays off. With no allowed origin (production's default)
nothing is installed and the gateway is closed to cross-origin pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp

from gateway.settings import GatewaySettings
from services.kit.problems import problem_response

# Any port of this machine: `vite`, `npm start`, a file served by `python -m http.server`.
LOCAL_ORIGINS = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:[0-9]{1,5})?"
ALLOWED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "If-None-Match",
    "X-Request-ID",
    "Last-Event-ID",
)
EXPOSED_HEADERS = (
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
    "Retry-After",
    "Location",
    "X-Request-ID",
    "Idempotent-Replayed",
    "ETag",
    "Content-Disposition",
)


@dataclass(frozen=True, slots=True)
class CorsPolicy:
    origins: tuple[str, ...]
    origin_regex: str | None

    @property
    def closed(self) -> bool:
        return not self.origins and self.origin_regex is None


def cors_policy(settings: GatewaySettings) -> CorsPolicy:
    """Explicit settings win; otherwise this machine's origins in simulation mode, and none in
    production."""
    explicit = settings.cors_allow_origins
    if explicit is not None or settings.cors_allow_origin_regex:
        return CorsPolicy(tuple(explicit or ()), settings.cors_allow_origin_regex or None)
    if settings.simulation and settings.environment != "production":
        return CorsPolicy((), LOCAL_ORIGINS)
    return CorsPolicy((), None)


class _ProblemCors(CORSMiddleware):
    """A refused preflight is an RFC 9457 problem naming what was refused, not plain text."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        refused = bytes(response.body).decode().removeprefix("Disallowed CORS ")
        headers = {
            k: v for k, v in response.headers.items() if k.lower().startswith(("access-", "vary"))
        }
        return problem_response(
            403,
            slug="cors-refused",
            title="Cross-origin request refused",
            detail=f"this cross-origin request is not allowed ({refused}) from "
            f"{request_headers.get('origin')}; see GATEWAY_CORS_ALLOW_ORIGINS",
            headers=headers,
        )


def with_cors(app: ASGIApp, settings: GatewaySettings) -> ASGIApp:
    policy = cors_policy(settings)
    if policy.closed:
        return app
    return _ProblemCors(
        app,
        allow_origins=policy.origins,
        allow_origin_regex=policy.origin_regex,
        allow_methods=ALLOWED_METHODS,
        allow_headers=ALLOWED_HEADERS,
        expose_headers=EXPOSED_HEADERS,
        allow_credentials=False,
        allow_private_network=settings.simulation and settings.environment != "production",
        max_age=settings.cors_max_age_seconds,
    )
