"""The kit refuses every token that is not an unexpired EdDSA token of our issuer for us."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Annotated, Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import APIRouter, FastAPI

from services.kit.app import RuntimeOptions, ServiceSpec, create_service_app
from services.kit.assurance import Acr, methods_of, rank
from services.kit.auth import (
    Citizen,
    Principal,
    Staff,
    TokenVerifier,
    citizen,
    service_client,
    staff,
)
from services.kit.errors import Unauthorized
from services.kit.settings import ServiceSettings
from tests.support.apps import running
from tests.support.tokens import AUDIENCE, ISSUER, TokenFactory
from tests.unit.kit.kitdb import EMPTY_MIGRATIONS as MIGRATIONS


def _verifier(tokens: TokenFactory) -> TokenVerifier:
    return TokenVerifier(tokens.key_source(), issuer=ISSUER, audience=AUDIENCE)


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


async def test_a_good_token_gives_its_principal(tokens: TokenFactory) -> None:
    token = tokens.mint("cit_1", kind="citizen", acr="jpki", roles=("x",))
    principal = await _verifier(tokens).verify(token)
    assert principal == Principal(
        sub="cit_1",
        kind="citizen",
        roles=frozenset({"x"}),
        acr="jpki",
        amr=("hwk", "sc"),
        token_id=principal.token_id,
        expires_at=principal.expires_at,
    )


async def test_alg_none_is_refused(tokens: TokenFactory) -> None:
    claims = jwt.decode(tokens.mint("cit_1", kind="citizen"), options={"verify_signature": False})
    token = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': tokens.kid})}.{_b64(claims)}."
    with pytest.raises(Unauthorized, match="algorithm"):
        await _verifier(tokens).verify(token)


async def test_hmac_algorithm_confusion_is_refused(tokens: TokenFactory) -> None:
    # Sign with HS256 using the public key's JWK as the secret: the classic confusion attack.
    claims = jwt.decode(tokens.mint("cit_1", kind="citizen"), options={"verify_signature": False})
    secret = json.dumps(tokens.jwks()["keys"][0]).encode()
    signing_input = f"{_b64({'alg': 'HS256', 'typ': 'JWT', 'kid': tokens.kid})}.{_b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
    with pytest.raises(Unauthorized, match="algorithm"):
        await _verifier(tokens).verify(token)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"aud": "someone-else"}, "audience"),
        ({"iss": "https://evil.example"}, "issuer"),
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
    ],
)
async def test_wrong_claims_are_refused(
    tokens: TokenFactory, override: dict[str, Any], message: str
) -> None:
    token = tokens.mint("cit_1", kind="citizen", **override)
    with pytest.raises(Unauthorized, match=message):
        await _verifier(tokens).verify(token)


async def test_unknown_kid_is_refused(tokens: TokenFactory) -> None:
    stranger = TokenFactory(kid="stranger")
    with pytest.raises(Unauthorized, match="unknown key"):
        await _verifier(tokens).verify(stranger.mint("cit_1", kind="citizen"))


async def test_a_foreign_key_under_our_kid_is_refused(tokens: TokenFactory) -> None:
    forger = TokenFactory(kid=tokens.kid)
    with pytest.raises(Unauthorized, match="invalid token"):
        await _verifier(tokens).verify(forger.mint("cit_1", kind="citizen"))


async def test_a_tampered_payload_is_refused(tokens: TokenFactory) -> None:
    header, _payload, signature = tokens.mint("cit_1", kind="citizen").split(".")
    claims = jwt.decode(tokens.mint("cit_1", kind="citizen"), options={"verify_signature": False})
    claims["roles"] = ["admin"]
    with pytest.raises(Unauthorized, match="invalid token"):
        await _verifier(tokens).verify(f"{header}.{_b64(claims)}.{signature}")


async def test_a_token_without_a_kind_is_refused(tokens: TokenFactory) -> None:
    token = tokens.mint("cit_1", kind="martian")
    with pytest.raises(Unauthorized):
        await _verifier(tokens).verify(token)


async def test_verified_tokens_are_cached_until_expiry(tokens: TokenFactory) -> None:
    verifier = _verifier(tokens)
    token = tokens.mint("cit_1", kind="citizen")
    first = await verifier.verify(token)
    assert await verifier.verify(token) is first


def _guarded_app(tokens: TokenFactory, db_url: str) -> FastAPI:
    router = APIRouter()

    @router.get("/mine")
    async def mine(principal: Citizen) -> dict[str, str]:
        return {"sub": principal.sub}

    @router.get("/filings")
    async def filings(principal: Annotated[Principal, citizen(min_acr="jpki")]) -> dict[str, str]:
        return {"sub": principal.sub}

    @router.get("/approvals")
    async def approvals(principal: Annotated[Principal, staff(role="approver")]) -> dict[str, str]:
        return {"sub": principal.sub}

    @router.post("/decisions")
    async def decide(
        principal: Annotated[Principal, staff(role="approver", mfa=True)],
    ) -> dict[str, str]:
        return {"sub": principal.sub}

    @router.get("/staff-only")
    async def staff_only(principal: Staff) -> dict[str, str]:
        return {"sub": principal.sub}

    @router.post("/payments")
    async def payments(
        principal: Annotated[Principal, service_client(scope="payments:write")],
    ) -> dict[str, str]:
        return {"sub": principal.sub}

    return create_service_app(
        ServiceSpec(
            name="guarded",
            title="g",
            description="g",
            settings=ServiceSettings(service_name="guarded", database_url=db_url),
            routers=[router],
            migrations=MIGRATIONS,
            options=RuntimeOptions(key_source=tokens.key_source(), background=False),
        )
    )


async def test_route_dependencies_check_kind_role_scope_and_assurance(
    tokens: TokenFactory, tmp_path: Any
) -> None:
    app = _guarded_app(tokens, f"sqlite+aiosqlite:///{tmp_path}/g.db")
    async with running(app) as client:
        assert (await client.get("/mine")).status_code == 401
        bad = await client.get("/mine", headers={"Authorization": "Bearer nonsense"})
        assert bad.status_code == 401
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.headers["www-authenticate"].startswith("Bearer")
        basic = await client.get("/mine", headers={"Authorization": "Basic dTpw"})
        assert basic.status_code == 401
        assert (await client.get("/mine", headers=tokens.citizen("c1"))).json() == {"sub": "c1"}
        assert (await client.get("/mine", headers=tokens.staff("s1"))).status_code == 403

        email_only = tokens.citizen("c1", acr="email")
        refused = await client.get("/filings", headers=email_only)
        assert refused.status_code == 403
        assert refused.json()["required_acr"] == "jpki"
        assert (
            await client.get("/filings", headers=tokens.citizen("c1", acr="jpki"))
        ).status_code == 200

        assert (
            await client.get("/approvals", headers=tokens.staff("s1", "staff"))
        ).status_code == 403
        assert (
            await client.get("/approvals", headers=tokens.staff("s2", "approver"))
        ).status_code == 200
        assert (await client.get("/staff-only", headers=tokens.admin())).status_code == 200

        writer = tokens.service("svc-a", "payments:write")
        reader = tokens.service("svc-b", "payments:read")
        assert (await client.post("/payments", headers=writer)).status_code == 200
        assert (await client.post("/payments", headers=reader)).status_code == 403
        assert (await client.post("/payments", headers=tokens.citizen())).status_code == 403


async def test_mfa_admits_only_staff_who_logged_in_with_the_code(
    tokens: TokenFactory, tmp_path: Any
) -> None:
    app = _guarded_app(tokens, f"sqlite+aiosqlite:///{tmp_path}/g.db")
    async with running(app) as client:
        with_code = tokens.staff("s1", "approver")
        assert (await client.post("/decisions", headers=with_code)).json() == {"sub": "s1"}
        password_only = tokens.staff("s1", "approver", acr=Acr.PASSWORD)
        refused = await client.post("/decisions", headers=password_only)
        assert refused.status_code == 403
        problem = refused.json()
        assert problem["type"] == "/problems/second-factor-required"
        assert (problem["required_acr"], problem["current_acr"]) == ("mfa", "password")
        assert problem["amr"] == ["pwd"]
        assert 'acr_values="mfa"' in refused.headers["www-authenticate"]
        # the same token is fine where no second factor is asked for
        assert (await client.get("/approvals", headers=password_only)).status_code == 200
        no_acr = tokens.headers("s2", kind="staff", roles=("approver",))
        assert (await client.post("/decisions", headers=no_acr)).status_code == 403
        admin_password_only = tokens.admin(acr=Acr.PASSWORD)
        assert (await client.post("/decisions", headers=admin_password_only)).status_code == 403
        assert (await client.post("/decisions", headers=tokens.admin())).status_code == 200
        # a citizen's card login ranks higher but is no staff account
        card = tokens.citizen("c1", acr=Acr.JPKI)
        assert (await client.post("/decisions", headers=card)).status_code == 403

        spec = (await client.get("/openapi.json")).json()
        access = spec["paths"]["/decisions"]["post"]["x-cityhall-access"]
        assert access["second_factor"] is True
        assert access["min_acr"] == "mfa"
        assert "second factor" in access["summary"]
        assert "second_factor" not in spec["paths"]["/approvals"]["get"]["x-cityhall-access"]
        card_only = spec["paths"]["/filings"]["get"]["x-cityhall-access"]
        assert (card_only["min_acr"], "second_factor" in card_only) == ("jpki", False)


def test_the_amr_of_every_level_uses_rfc_8176_values_where_one_exists() -> None:
    assert methods_of(Acr.PASSWORD) == ["pwd"]
    assert methods_of(Acr.MFA) == ["pwd", "otp"]
    assert methods_of(Acr.JPKI) == ["hwk", "sc"]
    assert methods_of(Acr.EMAIL) == ["email"]
    assert methods_of(None) == []  # client_credentials: no login, no methods
    assert methods_of("bogus") == []
    assert [a.value for a in sorted(Acr, key=rank)] == ["email", "password", "mfa", "jpki"]


def test_a_different_signing_key_really_differs(tokens: TokenFactory) -> None:
    assert TokenFactory().jwks() != tokens.jwks()
    assert isinstance(tokens.private_key, Ed25519PrivateKey)
