"""Signed, expiring tokens carried by e-mail links (HS256 with a key derived from a secret).

Expiry is judged against the caller's `now` (the simulation clock), not the wall clock."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import jwt

_ALGORITHM = "HS256"


class LinkError(Exception):
    pass


def _key(secret: str, namespace: str) -> bytes:
    """A 256-bit key derived from the secret (whatever its length), separate per namespace."""
    return hashlib.sha256(f"cityhall-links:{namespace}:".encode() + secret.encode()).digest()


def sign_link(
    secret: str,
    *,
    purpose: str,
    sub: str,
    now: datetime,
    ttl: timedelta,
    namespace: str = "",
    **claims: Any,
) -> str:
    payload = {
        "purpose": purpose,
        "sub": sub,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        **claims,
    }
    return jwt.encode(payload, _key(secret, namespace), algorithm=_ALGORITHM)


def read_link(
    secret: str, token: str, *, purpose: str, now: datetime, namespace: str = ""
) -> dict[str, Any]:
    """The claims of a valid token of `purpose`; `LinkError` otherwise."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _key(secret, namespace),
            algorithms=[_ALGORITHM],
            options={"require": ["exp", "sub", "purpose"], "verify_exp": False},
        )
    except jwt.PyJWTError as exc:
        raise LinkError("the link is not valid") from exc
    if claims.get("purpose") != purpose:
        raise LinkError("the link is not valid")
    if int(claims["exp"]) < now.timestamp():
        raise LinkError("the link has expired")
    return claims
