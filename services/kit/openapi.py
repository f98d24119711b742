"""OpenAPI declarations shared by every app: the problem document every error returns."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ConfigDict

from services.kit.auth import Requirement, requirement_of
from services.kit.idempotency import REPLAY_STATUS, REPLAYED_HEADER, idempotency_slot


class FieldError(BaseModel):
    field: str
    message: str
    code: str | None = None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


_PROBLEM = {"model": Problem, "content": {"application/problem+json": {}}}

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {**_PROBLEM, "description": "Client error (RFC 9457 problem)"},
    "5XX": {**_PROBLEM, "description": "Server error (RFC 9457 problem)"},
}

PAGE_OR_PROBLEM: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": Problem,
        "content": {"application/problem+json": {}, "text/html": {}},
        "description": (
            "Client error: an RFC 9457 problem, or an HTML page when `Accept` asks for "
            "text/html (a browser following a mailed link)"
        ),
    }
}

# --- security: derived once from the auth dependencies every route declares ---------------

OAUTH2 = "OAuth2"
BEARER = "BearerAuth"
TOKEN_PATH = "/auth/token"  # noqa: S105 - a path, not a secret


def _requirements(dependant: Dependant) -> list[Requirement]:
    found: list[Requirement] = []
    for sub in dependant.dependencies:
        requirement = requirement_of(sub.call)
        if requirement is not None:
            found.append(requirement)
        found += _requirements(sub)
    return found


def _describe(requirement: Requirement) -> str:
    parts: list[str] = []
    if requirement.kinds:
        parts.append(" or ".join(sorted(requirement.kinds)) + " accounts")
    if requirement.roles:
        parts.append("role " + " or ".join(f"`{r}`" for r in requirement.roles))
    if requirement.scopes:
        parts.append("scope " + " or ".join(f"`{s}`" for s in requirement.scopes))
    if requirement.department:
        parts.append(f"department `{requirement.department}`")
    if requirement.second_factor:
        parts.append(
            f"a login with a second factor (acr `{requirement.min_acr}`: password and one-time"
            " code; a password-only token is refused with /problems/second-factor-required)"
        )
    elif requirement.min_acr:
        parts.append(f"assurance level `{requirement.min_acr}` or higher")
    if requirement.note:
        parts.append(requirement.note)
    return "; ".join(parts) or "any valid access token"


def access_of(requirements: list[Requirement]) -> dict[str, Any]:
    """`security` and `x-cityhall-access` of one operation."""
    checks = [r for r in requirements if not r.public and not r.optional]
    if not checks:
        optional = any(r.optional for r in requirements)
        security: list[dict[str, list[str]]] = [{}, {OAUTH2: []}, {BEARER: []}] if optional else []
        summary = "a token is optional (it changes what you see)" if optional else "public"
        return {"security": security, "x-cityhall-access": {"summary": summary}}
    scopes = sorted({s for r in checks for s in r.scopes})
    security = [{OAUTH2: [s]} for s in scopes] or [{OAUTH2: []}]
    security.append({BEARER: []})
    access: dict[str, Any] = {
        "summary": "; and ".join(_describe(r) for r in checks),
        "kinds": sorted({k for r in checks for k in r.kinds}),
        "roles_any": sorted({role for r in checks for role in r.roles}),
        "scopes_any": scopes,
    }
    acr = [r.min_acr for r in checks if r.min_acr]
    if acr:
        access["min_acr"] = acr[0]
    if any(r.second_factor for r in checks):
        access["second_factor"] = True
    return {"security": security, "x-cityhall-access": access}


def _uses_idempotency(dependant: Dependant) -> bool:
    return any(
        sub.call is idempotency_slot or _uses_idempotency(sub) for sub in dependant.dependencies
    )


LOCATION_HEADER: dict[str, Any] = {
    "description": "The created resource's path (answered again by a replay)",
    "schema": {"type": "string", "examples": ["/v1/payments/pay_01JD5Z..."]},
}
# For a create whose resource is read elsewhere than `{path}/{id}` (document_create's rule).
CREATED_ELSEWHERE: dict[int | str, dict[str, Any]] = {
    201: {"headers": {"Location": LOCATION_HEADER}}
}
_REPLAYED = {
    "description": "`true` on a replay of an earlier answer to the same Idempotency-Key",
    "schema": {"type": "string", "enum": ["true"]},
}


def _has_own_get(paths: dict[str, Any], path: str) -> bool:
    """A create whose resources have a `GET {path}/{id}` answers with their `Location`."""
    prefix = f"{path}/{{"
    return any(
        other.startswith(prefix)
        and other.endswith("}")
        and "/" not in other[len(prefix) :]
        and "get" in item
        for other, item in paths.items()
    )


def document_create(
    operation: dict[str, Any], paths: dict[str, Any], path: str, idempotent: bool
) -> None:
    """The headers a create answers with (`Location`), and the 200 replay of an
    `Idempotency-Key` (the first answer's body and headers, `Idempotent-Replayed: true`)."""
    responses = operation.setdefault("responses", {})
    created = responses.get("201")
    if isinstance(created, dict) and _has_own_get(paths, path):
        created.setdefault("headers", {})["Location"] = LOCATION_HEADER
    if not idempotent:
        return
    first = created if isinstance(created, dict) else responses.get("200")
    replay: dict[str, Any] = {
        "description": "Replay: the first answer to this Idempotency-Key and request, repeated"
        " byte for byte with its headers",
        "headers": {REPLAYED_HEADER: _REPLAYED},
    }
    if isinstance(first, dict):
        if "content" in first:
            replay["content"] = first["content"]
        if "Location" in first.get("headers", {}):
            replay["headers"]["Location"] = LOCATION_HEADER
        if first is responses.get(str(REPLAY_STATUS)):
            first.setdefault("headers", {})[REPLAYED_HEADER] = _REPLAYED
            return
    responses[str(REPLAY_STATUS)] = replay


def security_schemes(token_url: str, scopes: list[str]) -> dict[str, Any]:
    described = {s: f"the `{s}` scope" for s in sorted(scopes)}
    return {
        OAUTH2: {
            "type": "oauth2",
            "description": "Tokens from the gateway's token endpoint. Citizens and business "
            "accounts use the password flow; staff add their one-time code in the `totp` "
            "form field; service clients use client_credentials. Refresh with "
            "grant_type=refresh_token.",
            "flows": {
                "password": {"tokenUrl": token_url, "refreshUrl": token_url, "scopes": described},
                "clientCredentials": {
                    "tokenUrl": token_url,
                    "refreshUrl": token_url,
                    "scopes": described,
                },
            },
        },
        BEARER: {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "An access token from POST /auth/token (or `cityhall token`).",
        },
    }


def install_security_openapi(app: FastAPI, *, token_url: str = TOKEN_PATH) -> None:
    """Makes `app.openapi()` declare the gateway's OAuth2 and bearer schemes and, on every
    operation, the requirement its auth dependencies enforce (`security`, and the kinds,
    roles and scopes in `x-cityhall-access` and the description)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = build()
        all_scopes: set[str] = set()
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if not isinstance(route, APIRoute) or not route.include_in_schema:
                continue
            access = access_of(_requirements(context.dependant))
            all_scopes.update(access["x-cityhall-access"].get("scopes_any", []))
            paths = document.get("paths", {})
            item = paths.get(context.path, {})
            idempotent = _uses_idempotency(context.dependant)
            for method in context.methods or ():
                operation = item.get(method.lower())
                if not isinstance(operation, dict):
                    continue
                operation.update(access)
                if method.upper() == "POST" and context.path:
                    document_create(operation, paths, context.path, idempotent)
                line = f"**Access:** {access['x-cityhall-access']['summary']}."
                description = operation.get("description", "")
                operation["description"] = f"{description}\n\n{line}".strip()
        components = document.setdefault("components", {})
        components["securitySchemes"] = security_schemes(token_url, sorted(all_scopes))
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
