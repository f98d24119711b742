"""Access tokens: EdDSA JWTs signed with the key store's current key (`kid` in the header).

`now` is wall-clock time, never the simulation clock: services check `exp`/`nbf` against
their real time, so a token minted on a clock moved forward would not be valid yet.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import jwt

from gateway.keys import KeyStore
from services.kit.assurance import methods_of
from services.kit.auth import PrincipalKind


def issue_access_token(
    keystore: KeyStore,
    *,
    sub: str,
    kind: PrincipalKind,
    roles: Iterable[str] = (),
    scopes: Iterable[str] = (),
    department: str | None = None,
    acr: str | None = None,
    session_id: str | None = None,
    ttl: int,
    issuer: str,
    audience: str,
    now: datetime,
) -> str:
    issued_at = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "iat": issued_at,
        "nbf": issued_at,
        "exp": issued_at + ttl,
        "jti": uuid.uuid4().hex,
        "kind": kind,
        "roles": sorted(set(roles)),
        "scope": " ".join(sorted(set(scopes))),
    }
    if department is not None:
        claims["department"] = department
    if acr is not None:
        claims["acr"] = acr
        claims["amr"] = methods_of(acr)  # RFC 8176: the methods the level stands for
    if session_id is not None:
        claims["sid"] = session_id  # the refresh-token family: revoked as one session
    signing_key = keystore.current
    return jwt.encode(
        claims,
        signing_key.private_key,
        algorithm="EdDSA",
        headers={"kid": signing_key.kid, "typ": "at+jwt"},
    )
