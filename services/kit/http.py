"""The one place that builds outbound HTTP clients: explicit limits and timeouts, and the
request id / traceparent of the current request propagated to every call."""

from __future__ import annotations

import functools
import secrets
import ssl

import httpx

from services.kit.context import current_request_id, traceparent_var

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)
DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=20, keepalive_expiry=30
)


async def _propagate_context(request: httpx.Request) -> None:
    request_id = current_request_id()
    if request_id and "x-request-id" not in request.headers:
        request.headers["X-Request-ID"] = request_id
    parent = traceparent_var.get()
    if "traceparent" not in request.headers:
        # Continue the caller's trace with a new span id, or start a new trace.
        trace_id = parent.split("-")[1] if parent else secrets.token_hex(16)
        request.headers["traceparent"] = f"00-{trace_id}-{secrets.token_hex(8)}-01"


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The TLS context httpx builds for a client by default (certifi's CAs, or SSL_CERT_FILE /
    SSL_CERT_DIR), built once per process and shared: loading the CA bundle takes ~40 ms,
    once per app otherwise (five apps in one process under `--single-process` and the
    pytest plugin)."""
    return httpx.create_ssl_context()


def build_client(
    *,
    base_url: str = "",
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    limits: httpx.Limits = DEFAULT_LIMITS,
    transport: httpx.AsyncBaseTransport | None = None,
    user_agent: str = "cityhall",
) -> httpx.AsyncClient:
    """Build once per app (in its lifespan) and share it; never per request."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=timeout,
        limits=limits,
        transport=transport,
        verify=_tls_context() if transport is None else True,
        headers={"User-Agent": user_agent},
        event_hooks={"request": [_propagate_context]},
        follow_redirects=False,
    )
