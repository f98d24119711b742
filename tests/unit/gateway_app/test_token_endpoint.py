"""OAuth2 client_credentials at /auth/token, checked with PyJWT against the JWKS document."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import jwt
import pytest

from gateway.keys import KeyStore
from services.kit.auth import Principal
from services.kit.settings import dev_secret

from .support import GatewayFactory

SECRET = dev_secret("client").get_secret_value()
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {**FORM, "Authorization": f"Basic {raw}"}


async def test_client_credentials_token_verifies_with_pyjwt_and_the_jwks(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        response = await gw.client.post(
            "/auth/token",
            content="grant_type=client_credentials",
            headers=basic("svc-e_application", SECRET),
        )
        jwks = (await gw.client.get("/.well-known/jwks.json")).json()
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 900
    assert set(body["scope"].split()) >= {"audit:write"}

    key_set = jwt.PyJWKSet.from_dict(jwks)
    kid = jwt.get_unverified_header(body["access_token"])["kid"]
    signing_key = next(k for k in key_set.keys if k.key_id == kid)
    claims = jwt.decode(
        body["access_token"],
        signing_key.key,
        algorithms=["EdDSA"],
        audience="cityhall",
        issuer="cityhall",
    )
    assert claims["sub"] == "svc-e_application"
    assert claims["kind"] == "service"
    assert claims["exp"] - claims["iat"] == 900
    principal = Principal.from_claims(claims)
    assert principal.kind == "service"
    assert principal.has_scope("audit:write")
    assert jwks["keys"][0]["kty"] == "OKP"
    assert jwks["keys"][0]["crv"] == "Ed25519"
    assert jwks["keys"][0]["alg"] == "EdDSA"
    assert jwks["keys"][0]["use"] == "sig"
    assert "d" not in jwks["keys"][0]


async def test_form_credentials_and_scope_narrowing(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        response = await gw.client.post(
            "/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "svc-facility_booking",
                "client_secret": SECRET,
                "scope": "audit:write",
            },
        )
    assert response.status_code == 200
    assert response.json()["scope"] == "audit:write"
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["scope"] == "audit:write"


@pytest.mark.parametrize(
    ("client_id", "secret"),
    [("svc-e_application", "wrong"), ("svc-nobody", SECRET), ("svc-e_application", "")],
)
async def test_bad_client_credentials_are_a_401_problem(
    make_gateway: GatewayFactory, client_id: str, secret: str
) -> None:
    async with make_gateway() as gw:
        response = await gw.client.post(
            "/auth/token",
            content="grant_type=client_credentials",
            headers=basic(client_id, secret),
        )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Basic")
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["status"] == 401
    assert body["instance"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ("grant_type=authorization_code", 400, "unsupported_grant_type"),
        ("grant_type=password&username=a@b.jp&password=x", 400, "unauthorized_client"),
        ("scope=audit:write", 400, "invalid_request"),
        ("grant_type=client_credentials&scope=sim", 400, "invalid_scope"),
        ("grant_type=client_credentials&grant_type=client_credentials", 400, "invalid_request"),
    ],
)
async def test_token_request_errors_follow_rfc6749(
    make_gateway: GatewayFactory, form: str, status: int, error: str
) -> None:
    async with make_gateway() as gw:
        response = await gw.client.post(
            "/auth/token", content=form, headers=basic("svc-alert_mail", SECRET)
        )
    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.headers["content-type"] == "application/problem+json"


async def test_no_client_authentication_and_json_bodies_are_refused(
    make_gateway: GatewayFactory,
) -> None:
    async with make_gateway() as gw:
        anonymous = await gw.client.post(
            "/auth/token", content="grant_type=client_credentials", headers=FORM
        )
        as_json = await gw.client.post("/auth/token", json={"grant_type": "client_credentials"})
    assert anonymous.status_code == 401
    assert anonymous.json()["error"] == "invalid_client"
    assert as_json.status_code == 400
    assert as_json.json()["error"] == "invalid_request"


async def test_discovery_document(make_gateway: GatewayFactory) -> None:
    async with make_gateway() as gw:
        document = (await gw.client.get("/.well-known/openid-configuration")).json()
    assert document["issuer"] == "cityhall"
    assert document["jwks_uri"] == "http://gateway.test/.well-known/jwks.json"
    assert document["token_endpoint"] == "http://gateway.test/auth/token"
    assert document["grant_types_supported"] == [
        "client_credentials",
        "password",
        "refresh_token",
        "urn:cityhall:params:oauth:grant-type:email-link",
    ]
    assert document["revocation_endpoint"] == "http://gateway.test/auth/revoke"


async def test_signing_keys_persist_privately_and_survive_restart(
    make_gateway: GatewayFactory, tmp_path: Path
) -> None:
    async with make_gateway() as gw:
        first = (await gw.client.get("/.well-known/jwks.json")).json()
    path = tmp_path / "gateway" / "signing-keys.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    async with make_gateway() as gw:
        second = (await gw.client.get("/.well-known/jwks.json")).json()
    assert first == second


def test_rotation_keeps_the_old_key_published(tmp_path: Path) -> None:
    store = KeyStore.load_or_create(tmp_path / "keys.json")
    old = store.current.kid
    fresh = store.rotate()
    assert store.current.kid == fresh.kid != old
    assert [k["kid"] for k in store.jwks()["keys"]] == [fresh.kid, old]
    reloaded = KeyStore.load_or_create(tmp_path / "keys.json")
    assert reloaded.current.kid == fresh.kid
    assert len(reloaded.jwks()["keys"]) == 2
