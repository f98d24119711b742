"""Dependencies of the identity provider's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gateway.idp.service import IdentityProvider
from services.kit.errors import ServiceUnavailable


def get_idp(request: Request) -> IdentityProvider:
    idp: IdentityProvider | None = getattr(request.app.state, "idp", None)
    if idp is None:
        raise ServiceUnavailable("the identity provider is not configured")
    return idp


IdpDep = Annotated[IdentityProvider, Depends(get_idp)]


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None
