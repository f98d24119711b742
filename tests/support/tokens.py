"""Real Ed25519-signed access tokens for tests, shaped like the gateway's."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from services.kit.assurance import Acr, methods_of
from services.kit.auth import StaticJWKS

ISSUER = "cityhall"
AUDIENCE = "cityhall"


class TokenFactory:
    def __init__(self, kid: str = "test-key-1") -> None:
        self.kid = kid
        self.private_key = Ed25519PrivateKey.generate()

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(OKPAlgorithm.to_jwk(self.private_key.public_key()))
        jwk.update({"kid": self.kid, "alg": "EdDSA", "use": "sig"})
        return {"keys": [jwk]}

    def key_source(self) -> StaticJWKS:
        return StaticJWKS(self.jwks())

    def mint(
        self,
        sub: str,
        *,
        kind: str,
        roles: Iterable[str] = (),
        scopes: Iterable[str] = (),
        department: str | None = None,
        acr: str | None = None,
        ttl: int = 900,
        **extra: Any,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": sub,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": uuid.uuid4().hex,
            "kind": kind,
            "roles": sorted(roles),
            "scope": " ".join(sorted(scopes)),
            **({"department": department} if department else {}),
            **({"acr": acr, "amr": methods_of(acr)} if acr else {}),  # as the gateway
            **extra,
        }
        return jwt.encode(claims, self.private_key, algorithm="EdDSA", headers={"kid": self.kid})

    def headers(self, sub: str, **kwargs: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mint(sub, **kwargs)}"}

    def citizen(self, sub: str = "cit_test", acr: str = "password") -> dict[str, str]:
        return self.headers(sub, kind="citizen", acr=acr)

    def staff(
        self,
        sub: str = "stf_test",
        *roles: str,
        department: str = "shimin",
        acr: str = Acr.MFA,
    ) -> dict[str, str]:
        """A staff member who logged in with the one-time code, as every staff token with
        roles from the gateway is; `acr=Acr.PASSWORD` for one without the second factor."""
        return self.headers(
            sub, kind="staff", roles=roles or ("staff",), department=department, acr=acr
        )

    def admin(self, acr: str = Acr.MFA) -> dict[str, str]:
        return self.headers("stf_admin", kind="staff", roles=("admin",), department="joho", acr=acr)

    def service(self, client_id: str, *scopes: str) -> dict[str, str]:
        return self.headers(client_id, kind="service", scopes=scopes)
