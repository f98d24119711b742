"""Dependencies of the identity provider's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway import headers
from gateway.idp.service import IdentityProvider
from gateway.settings import GatewaySettings
from services.kit.errors import ServiceUnavailable


async def get_idp(request: Request) -> IdentityProvider:
    idp: IdentityProvider | None = getattr(request.app.state, "idp", None)
    if idp is None:
        raise ServiceUnavailable("the identity provider is not configured")
    return idp


IdpDep = Annotated[IdentityProvider, Depends(get_idp)]


def client_ip(request: Request) -> str | None:
    """The same client address the rate limiter and the audit log see: behind a trusted
    proxy the first X-Forwarded-For entry, not the proxy's own address (which would put
    every user's failed logins in one counter)."""
    settings: GatewaySettings = request.app.state.settings
    return headers.client_ip(request.scope, trust_forwarded=settings.trust_forwarded_headers)
