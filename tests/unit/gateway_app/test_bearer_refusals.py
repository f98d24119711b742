"""Issue 3 item 6 at the gateway itself: every forged or unfit bearer token is refused with a
401 problem before anything is forwarded, whether the rate limiter or the proxy checks it.
Each token is built from the running gateway's own key material, so only the one flaw
differs from a token that passes (the control case)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from gateway.keys import KeyStore, SigningKey
from gateway.rate_limit.settings import RateLimitSettings

from .support import GatewayFactory
from .test_proxy_in_process import in_process


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _segment(data: dict[str, Any]) -> str:
    return _b64(json.dumps(data, separators=(",", ":")).encode())


def claims(**override: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": "cityhall",
        "aud": "cityhall",
        "sub": "cit_mallory",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "kind": "citizen",
        "roles": [],
        "scope": "",
    }
    values.update(override)
    return values


def signed(key: SigningKey, *, kid: str | None = None, **override: Any) -> str:
    return jwt.encode(
        claims(**override), key.private_key, algorithm="EdDSA", headers={"kid": kid or key.kid}
    )


def hmac_signed(key: SigningKey, secret: bytes) -> str:
    """HS256 keyed with public key material: the algorithm-confusion attack."""
    signing_input = (
        f"{_segment({'alg': 'HS256', 'typ': 'JWT', 'kid': key.kid})}.{_segment(claims())}"
    )
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def alg_none(key: SigningKey) -> str:
    return f"{_segment({'alg': 'none', 'typ': 'JWT', 'kid': key.kid})}.{_segment(claims())}."


def tampered_signature(key: SigningKey) -> str:
    header, payload, signature = signed(key).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[0] ^= 0x01
    return f"{header}.{payload}.{_b64(bytes(raw))}"


def tampered_payload(key: SigningKey) -> str:
    header, _, signature = signed(key).split(".")
    return f"{header}.{_segment(claims(roles=['admin'], kind='staff'))}.{signature}"


def public_pem(key: SigningKey) -> bytes:
    return key.public_key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)


def public_raw(key: SigningKey) -> bytes:
    return key.public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_jwk(key: SigningKey) -> bytes:
    return json.dumps(key.public_jwk()).encode()


Forge = Callable[[SigningKey], str]
CASES: dict[str, tuple[Forge, str]] = {
    "alg none": (alg_none, "token algorithm not allowed"),
    "HS256 keyed with the public key (PEM)": (
        lambda k: hmac_signed(k, public_pem(k)),
        "token algorithm not allowed",
    ),
    "HS256 keyed with the public key (raw)": (
        lambda k: hmac_signed(k, public_raw(k)),
        "token algorithm not allowed",
    ),
    "HS256 keyed with the public JWK": (
        lambda k: hmac_signed(k, public_jwk(k)),
        "token algorithm not allowed",
    ),
    "wrong aud": (lambda k: signed(k, aud="payments-elsewhere"), "not meant for this audience"),
    "wrong iss": (lambda k: signed(k, iss="https://evil.example"), "unknown issuer"),
    "expired": (
        lambda k: signed(k, iat=int(time.time()) - 3600, exp=int(time.time()) - 60),
        "token has expired",
    ),
    "not yet valid": (lambda k: signed(k, nbf=int(time.time()) + 3600), "not valid yet"),
    "unknown kid": (lambda k: signed(k, kid="no-such-key"), "unknown key"),
    "another key under our kid": (
        lambda k: signed(SigningKey.generate(k.created_at), kid=k.kid),
        "invalid token",
    ),
    "tampered signature": (tampered_signature, "invalid token"),
    "tampered payload": (tampered_payload, "invalid token"),
    "not a JWT": (lambda k: "not-a-jwt", "malformed token"),
}


@pytest.fixture(params=[True, False], ids=["rate-limiter-checks", "proxy-checks"])
def rate_limits(request: pytest.FixtureRequest) -> RateLimitSettings:
    return RateLimitSettings(enabled=request.param)


@pytest.mark.parametrize("case", list(CASES))
async def test_each_forged_or_unfit_token_is_a_401_problem_and_never_forwarded(
    make_gateway: GatewayFactory, rate_limits: RateLimitSettings, case: str
) -> None:
    forge, detail = CASES[case]
    seen: list[dict[str, Any]] = []
    async with make_gateway(**in_process(seen), rate_limits=rate_limits) as gw:
        key = gw.runtime.keystore
        assert isinstance(key, KeyStore)
        good = await gw.client.get(
            "/v1/things", headers={"Authorization": f"Bearer {signed(key.current)}"}
        )
        refused = await gw.client.get(
            "/v1/things", headers={"Authorization": f"Bearer {forge(key.current)}"}
        )
    assert good.status_code == 201  # the same token without the flaw passes
    assert refused.status_code == 401, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["www-authenticate"] == 'Bearer realm="cityhall"'
    problem = refused.json()
    assert problem["type"] == "/problems/unauthorized"
    assert problem["status"] == 401
    assert detail in problem["detail"]
    assert problem["instance"] == refused.headers["x-request-id"]
    assert len(seen) == 1  # only the good one reached the service
