"""The bearer check in front of proxied requests, done once per request: by the rate limiter
(which needs the principal to pick a bucket) or else by the proxy.

A valid token leaves its principal in `scope["state"]["principal"]` (the access audit reads
it there); a request without a bearer token is anonymous and the service decides; an invalid
one raises `Unauthorized` and is never forwarded.
"""

from __future__ import annotations

from starlette.types import Scope

from gateway.headers import header_value
from services.kit.auth import Principal, TokenVerifier
from services.kit.errors import ServiceUnavailable, Unauthorized

CHECKED = "gateway.bearer_checked"


async def authenticate(scope: Scope, verifier: TokenVerifier | None) -> Principal | None:
    state = scope.setdefault("state", {})
    if state.get(CHECKED):
        principal: Principal | None = state.get("principal")
        return principal
    header = header_value(scope["headers"], b"authorization")
    principal = None
    if header is not None:
        scheme, _, token = header.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer":  # any other scheme is not ours to judge
            token = token.strip()
            if not token:
                raise Unauthorized("empty bearer token")
            if verifier is None:
                raise ServiceUnavailable("the gateway is starting")
            principal = await verifier.verify(token)
            state["principal"] = principal
    state[CHECKED] = True
    return principal
