"""The OAuth2 token endpoint (client_credentials, RFC 6749 §4.4; the user grants password and
refresh_token are handed to gateway.idp.grants), the JWKS and discovery."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from gateway.deps import RuntimeDep
from gateway.idp.deps import IdpDep, client_ip
from gateway.idp.grants import EMAIL_LINK_GRANT, NO_STORE, USER_GRANTS, user_grant
from gateway.idp.schemas import TokenResponse
from gateway.oauth_errors import InvalidRequest
from services.kit.assurance import Acr
from services.kit.auth import Public

MAX_FORM_BYTES = 8192
# What the access tokens carry (gateway.tokens), for the discovery document.
CLAIMS_SUPPORTED = [
    "iss",
    "aud",
    "sub",
    "iat",
    "nbf",
    "exp",
    "jti",
    "kind",
    "roles",
    "scope",
    "department",
    "acr",
    "amr",
    "sid",
]

router = APIRouter(tags=["auth"])


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        raise InvalidRequest("send the parameters as application/x-www-form-urlencoded")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise InvalidRequest(f"the form is larger than {MAX_FORM_BYTES} bytes")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequest("the form is not valid UTF-8 urlencoded data") from exc
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:  # RFC 6749 §3.2: parameters must not repeat
            raise InvalidRequest(f"parameter {key} is repeated")
        if "\x00" in value:
            raise InvalidRequest(f"parameter {key} contains a NUL byte")
        form[key] = value
    return form


_FORM_SCHEMA: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {
                            "type": "string",
                            "enum": [
                                "client_credentials",
                                "password",
                                "refresh_token",
                                EMAIL_LINK_GRANT,
                            ],
                        },
                        "username": {"type": "string", "description": "e-mail address"},
                        "password": {"type": "string", "format": "password"},
                        "totp": {
                            "type": "string",
                            "description": "staff: one-time code; gives acr=mfa, amr pwd+otp",
                        },
                        "refresh_token": {"type": "string"},
                        "link_token": {
                            "type": "string",
                            "description": f"{EMAIL_LINK_GRANT}: the token of the mailed link "
                            "(POST /auth/email-login); works once, gives acr=email",
                        },
                        "scope": {"type": "string", "description": "space-separated scopes"},
                        "client_id": {"type": "string"},
                        "client_secret": {"type": "string", "format": "password"},
                    },
                },
                "examples": {
                    "citizen": {
                        "summary": "a citizen logs in (demo identity taro)",
                        "value": {
                            "grant_type": "password",
                            "username": "taro@example.jp",
                            "password": "taro-demo-pass",
                        },
                    },
                    "staff": {
                        "summary": "staff add the current code (`cityhall totp bosai`)",
                        "value": {
                            "grant_type": "password",
                            "username": "bosai.taro@city.demo.example.jp",
                            "password": "bosai-demo-pass",
                            "totp": "123456",
                        },
                    },
                    "client": {
                        "summary": "a client app (the demo client)",
                        "value": {
                            "grant_type": "client_credentials",
                            "client_id": "demo-app",
                            "client_secret": "dev-insecure-demo-app-change-me",
                            "scope": "payments:write webhooks:manage",
                        },
                    },
                    "refresh": {
                        "summary": "a new pair from the refresh token (single use)",
                        "value": {"grant_type": "refresh_token", "refresh_token": "rt_..."},
                    },
                },
            }
        },
    }
}


@router.post(
    "/auth/token",
    response_model=TokenResponse,
    summary="Obtain an access token (client_credentials, password, refresh_token, e-mail link)",
    openapi_extra=_FORM_SCHEMA,
)
async def token(request: Request, idp: IdpDep, _: Public) -> JSONResponse:
    """Form-encoded (RFC 6749). Service clients authenticate (Basic or form) and use
    `client_credentials`. People use `password` (+ `totp` for staff), `refresh_token`, or
    the かんたん login: `grant_type=urn:cityhall:params:oauth:grant-type:email-link` with
    `link_token` = the token of the link mailed by `POST /auth/email-login`; the link works
    once, within 10 minutes, and gives tokens with `acr=email`."""
    form = await _form(request)
    grant = form.get("grant_type", "")
    authorization = request.headers.get("authorization")
    if grant in USER_GRANTS:  # public clients (the portal) need no client authentication
        idp.clients.refuse_user_grant(grant, authorization, form)
        tokens = await user_grant(idp, grant, form, client_ip(request))
    else:
        tokens = idp.clients.grant(authorization, form)
    request.state.principal = tokens.principal  # the access record's actor
    return JSONResponse(tokens.body(), headers=NO_STORE)


@router.get("/.well-known/jwks.json", summary="Public keys that verify the gateway's tokens")
async def jwks(runtime: RuntimeDep, _: Public) -> JSONResponse:
    return JSONResponse(
        runtime.require_keystore().jwks(), headers={"Cache-Control": "public, max-age=60"}
    )


@router.get("/.well-known/openid-configuration", summary="Authorization server metadata")
async def openid_configuration(request: Request, runtime: RuntimeDep, _: Public) -> dict[str, Any]:
    settings = runtime.settings
    base = str(request.base_url).rstrip("/")
    scopes = sorted({s for c in settings.service_clients.values() for s in c.scopes})
    return {
        "issuer": settings.issuer,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "token_endpoint": f"{base}/auth/token",
        "grant_types_supported": [
            "client_credentials",
            "password",
            "refresh_token",
            EMAIL_LINK_GRANT,
        ],
        "revocation_endpoint": f"{base}/auth/revoke",
        "userinfo_endpoint": f"{base}/auth/me",
        "acr_values_supported": [acr.value for acr in Acr],
        "claims_supported": CLAIMS_SUPPORTED,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["EdDSA"],
        "scopes_supported": scopes,
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
    }
