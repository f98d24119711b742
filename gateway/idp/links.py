"""Signed, expiring tokens carried by the IdP's e-mail links (the kit's signed links, keyed
by the gateway's IdP secret in a namespace of their own)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from services.kit import signed_links
from services.kit.signed_links import LinkError

Purpose = Literal["verify-email", "set-password", "email-login"]
_NAMESPACE = "gateway-idp"

__all__ = ["LinkError", "Purpose", "read_link", "sign_link"]


def sign_link(
    secret: str, *, purpose: Purpose, sub: str, now: datetime, ttl: timedelta, **claims: Any
) -> str:
    return signed_links.sign_link(
        secret, purpose=purpose, sub=sub, now=now, ttl=ttl, namespace=_NAMESPACE, **claims
    )


def read_link(secret: str, token: str, *, purpose: Purpose, now: datetime) -> dict[str, Any]:
    """The claims of a valid link token of `purpose`; `LinkError` otherwise. Expiry is judged
    against `now` (the gateway clock), not the wall clock."""
    return signed_links.read_link(secret, token, purpose=purpose, now=now, namespace=_NAMESPACE)
