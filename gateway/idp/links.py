"""Signed, expiring tokens carried by e-mail links (HS256 with the gateway's IdP secret)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any, Literal

import jwt

Purpose = Literal["verify-email", "set-password", "email-login"]
_ALGORITHM = "HS256"


def _key(secret: str) -> bytes:
    """A 256-bit key derived from the IdP secret (whatever its length)."""
    return hashlib.sha256(b"cityhall-links:" + secret.encode()).digest()


class LinkError(Exception):
    pass


def sign_link(
    secret: str, *, purpose: Purpose, sub: str, now: datetime, ttl: timedelta, **claims: Any
) -> str:
    payload = {
        "purpose": purpose,
        "sub": sub,
        "iat": int(now.timestamp()),
        "exp": int((now + ttl).timestamp()),
        **claims,
    }
    return jwt.encode(payload, _key(secret), algorithm=_ALGORITHM)


def read_link(secret: str, token: str, *, purpose: Purpose, now: datetime) -> dict[str, Any]:
    """The claims of a valid link token of `purpose`; `LinkError` otherwise. Expiry is judged
    against `now` (the gateway clock), not the wall clock."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            _key(secret),
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
