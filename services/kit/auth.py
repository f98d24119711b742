"""Verification of the gateway's access tokens and the auth dependencies every route declares.

Tokens are EdDSA JWTs; keys come from the gateway's JWKS (cached, refetched on an unknown
`kid` at most once per `refresh_interval`). Only EdDSA is accepted, whatever the header says.
Every route declares one of the dependencies below, or `Public`; a test enforces it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, Protocol, TypeVar

import httpx
import jwt
from fastapi import Depends, Request
from jwt.algorithms import OKPAlgorithm

from services.kit.assurance import Acr, meets
from services.kit.errors import Forbidden, ServiceUnavailable, Unauthorized

ALGORITHMS = ["EdDSA"]
PrincipalKind = Literal["citizen", "business", "staff", "service"]


@dataclass(frozen=True, slots=True)
class Principal:
    sub: str
    kind: PrincipalKind
    roles: frozenset[str] = frozenset()
    scopes: frozenset[str] = frozenset()
    department: str | None = None
    acr: str | None = None
    amr: tuple[str, ...] = ()  # RFC 8176 methods of the login (kit.assurance)
    name: str | None = None
    email: str | None = None
    token_id: str | None = None
    expires_at: int = 0
    claims: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_role(self, role: str) -> bool:
        return role in self.roles or "admin" in self.roles

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Principal:
        kind = claims.get("kind")
        if kind not in ("citizen", "business", "staff", "service"):
            raise Unauthorized("token has no valid principal kind")
        scope = claims.get("scope", "")
        amr = claims.get("amr", ())
        return cls(
            sub=str(claims["sub"]),
            kind=kind,
            roles=frozenset(claims.get("roles", ())),
            scopes=frozenset(scope.split() if isinstance(scope, str) else scope),
            department=claims.get("department"),
            acr=claims.get("acr"),
            amr=tuple(str(m) for m in amr) if isinstance(amr, list) else (),
            name=claims.get("name"),
            email=claims.get("email"),
            token_id=claims.get("jti"),
            expires_at=int(claims.get("exp", 0)),
            claims=dict(claims),
        )


class KeySource(Protocol):
    async def key(self, kid: str) -> Any: ...


def _keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, Any]:
    keys: dict[str, Any] = {}
    for jwk in jwks.get("keys", ()):
        if jwk.get("kty") == "OKP" and jwk.get("crv") == "Ed25519" and "kid" in jwk:
            keys[jwk["kid"]] = OKPAlgorithm.from_jwk(json.dumps(jwk))
    return keys


class StaticJWKS:
    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = _keys_from_jwks(jwks)

    async def key(self, kid: str) -> Any:
        if kid not in self._keys:
            raise Unauthorized("token signed with an unknown key")
        return self._keys[kid]


class RemoteJWKS:
    """The gateway's JWKS over HTTP, fetched lazily and refreshed on an unknown `kid`."""

    def __init__(
        self, url: str, client: httpx.AsyncClient, *, refresh_interval: float = 30.0
    ) -> None:
        self.url = url
        self.client = client
        self.refresh_interval = refresh_interval
        self._keys: dict[str, Any] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched_at < self.refresh_interval:
                return
            try:
                response = await self.client.get(self.url)
                response.raise_for_status()
                self._keys = _keys_from_jwks(response.json())
            except (httpx.HTTPError, ValueError) as exc:
                raise ServiceUnavailable("the gateway's signing keys cannot be fetched") from exc
            finally:
                self._fetched_at = time.monotonic()

    async def key(self, kid: str) -> Any:
        if kid not in self._keys:
            await self._refresh()
        if kid not in self._keys:
            raise Unauthorized("token signed with an unknown key")
        return self._keys[kid]


class TokenVerifier:
    """Verifies access tokens and caches verified ones until they expire."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        leeway: float = 5.0,
        cache_size: int = 10_000,
        is_revoked: Callable[[Principal], Awaitable[bool]] | None = None,
    ) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self.cache_size = cache_size
        self.is_revoked = is_revoked
        self._cache: OrderedDict[str, Principal] = OrderedDict()

    async def verify(self, token: str) -> Principal:
        cached = self._cache.get(token)
        if cached is not None and cached.expires_at > time.time():
            principal = cached
        else:
            principal = await self._verify_signature(token)
            self._cache[token] = principal
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        if self.is_revoked is not None and await self.is_revoked(principal):
            raise Unauthorized("token has been revoked")
        return principal

    async def _verify_signature(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("malformed token") from exc
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized("token algorithm not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise Unauthorized("token has no key id")
        key = await self.keys.key(kid)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "sub", "iss", "aud"], "verify_nbf": True},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token has expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise Unauthorized("token is not meant for this audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise Unauthorized("token was issued by an unknown issuer") from exc
        except jwt.ImmatureSignatureError as exc:
            raise Unauthorized("token is not valid yet") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("invalid token") from exc
        return Principal.from_claims(claims)


# --- dependencies -------------------------------------------------------------------------

AUTH_MARK = "__cityhall_auth__"
REQUIREMENT_MARK = "__cityhall_requirement__"


F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Requirement:
    """What an auth dependency lets through, for the OpenAPI document (kit.openapi): the
    principal kinds, any one of `roles`, any one of `scopes` (admin passes role and kind
    checks), a department and a minimum assurance level."""

    label: str
    kinds: frozenset[str] = frozenset()
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    department: str | None = None
    min_acr: str | None = None
    note: str | None = None

    @property
    def second_factor(self) -> bool:
        """Whether this is `staff(mfa=True)`: only a login with the one-time code passes."""
        return self.min_acr == Acr.MFA

    @property
    def public(self) -> bool:
        return self.label == "public"

    @property
    def optional(self) -> bool:
        return self.label == "optional"


def mark_auth(
    kind: str,
    *,
    kinds: frozenset[str] | set[str] = frozenset(),
    roles: tuple[str, ...] = (),
    scopes: tuple[str, ...] = (),
    department: str | None = None,
    min_acr: str | None = None,
    note: str | None = None,
) -> Callable[[F], F]:
    """Marks a dependency as an authorization check (the route walker looks for these) and
    records what it requires, which the OpenAPI document shows for every operation."""
    requirement = Requirement(
        kind, frozenset(kinds), tuple(roles), tuple(scopes), department, min_acr, note
    )

    def decorate(func: F) -> F:
        setattr(func, AUTH_MARK, kind)
        setattr(func, REQUIREMENT_MARK, requirement)
        return func

    return decorate


def requirement_of(func: Any) -> Requirement | None:
    found: Requirement | None = getattr(func, REQUIREMENT_MARK, None)
    return found


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("use the Bearer scheme")
    return token.strip()


def _verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier | None = getattr(request.app.state, "verifier", None)
    if verifier is None:
        raise ServiceUnavailable("token verification is not configured")
    return verifier


async def _principal_or_none(request: Request) -> Principal | None:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = bearer_token(request)
    if token is None:
        return None
    principal = await _verifier(request).verify(token)
    request.state.principal = principal
    return principal


@mark_auth("public")
async def public_route() -> None:
    """Marks a route as deliberately open to anyone."""


@mark_auth("optional")
async def optional_principal(request: Request) -> Principal | None:
    return await _principal_or_none(request)


@mark_auth("authenticated")
async def authenticated(request: Request) -> Principal:
    principal = await _principal_or_none(request)
    if principal is None:
        raise Unauthorized("this endpoint needs an access token")
    return principal


def _require(
    *,
    kinds: frozenset[str],
    role: str | None = None,
    scope: str | None = None,
    department: str | None = None,
    min_acr: str | None = None,
    label: str,
) -> Callable[..., Awaitable[Principal]]:
    required_acr = Acr(min_acr) if min_acr is not None else None  # a typo fails at import

    @mark_auth(
        label,
        kinds=kinds,
        roles=(role,) if role else (),
        scopes=(scope,) if scope else (),
        department=department,
        min_acr=min_acr,
    )
    async def dependency(request: Request) -> Principal:
        principal = await authenticated(request)
        if principal.kind not in kinds and "admin" not in principal.roles:
            raise Forbidden(f"this endpoint is for {' or '.join(sorted(kinds))} accounts")
        if role is not None and not principal.has_role(role):
            raise Forbidden(f"this endpoint needs the role {role}")
        if scope is not None and not principal.has_scope(scope):
            raise Forbidden(f"this endpoint needs the scope {scope}")
        if (
            department is not None
            and principal.department != department
            and "admin" not in principal.roles
        ):
            raise Forbidden(f"this endpoint is for department {department}")
        if required_acr is not None and not meets(principal.acr, required_acr):
            raise _assurance_refusal(principal, required_acr)
        return principal

    dependency.__name__ = f"require_{label}"
    return dependency


class SecondFactorRequired(Forbidden):
    """A staff token without a second factor where one is required. The header follows
    RFC 9470 (step-up) so a client knows to log in again with its one-time code; the status
    stays 403, as RFC 6750 answers `insufficient_scope`, because the token itself is valid."""

    slug = "second-factor-required"
    title = "This action needs a login with a second factor"

    def __init__(self, detail: str, /, **extensions: Any) -> None:
        super().__init__(detail, **extensions)
        self.headers["WWW-Authenticate"] = (
            'Bearer realm="cityhall", error="insufficient_user_authentication", '
            f'error_description="log in with your one-time code", acr_values="{Acr.MFA}"'
        )


def _assurance_refusal(principal: Principal, required: Acr) -> Forbidden:
    current = {"required_acr": required.value, "current_acr": principal.acr}
    if required is Acr.MFA:
        return SecondFactorRequired(
            "this action needs a login with a second factor: log in again with your password"
            " and the one-time code of your authenticator (the totp field of POST /auth/token)",
            **current,
            amr=list(principal.amr),
        )
    return Forbidden(f"this endpoint needs assurance level {required}", **current)


def citizen(*, min_acr: str | None = None) -> Any:
    """A citizen or business account: `Annotated[Principal, citizen(min_acr="jpki")]`."""
    kinds = frozenset({"citizen", "business"})
    return Depends(_require(kinds=kinds, min_acr=min_acr, label="citizen"))


def staff(*, role: str | None = None, department: str | None = None, mfa: bool = False) -> Any:
    """A staff account: `Annotated[Principal, staff(role="approver", mfa=True)]`. With `mfa`,
    only a login with the one-time code passes (acr `mfa`, amr `["pwd", "otp"]`): for
    decisions (approvals), audit reads and lists of personal data."""
    kinds = frozenset({"staff"})
    min_acr = Acr.MFA.value if mfa else None
    return Depends(
        _require(kinds=kinds, role=role, department=department, min_acr=min_acr, label="staff")
    )


def service_client(*, scope: str | None = None) -> Any:
    """A service client (client_credentials): `Annotated[Principal, service_client(scope=...)]`."""
    return Depends(_require(kinds=frozenset({"service"}), scope=scope, label="service"))


def admin() -> Any:
    return Depends(_require(kinds=frozenset({"staff", "service"}), role="admin", label="admin"))


Public = Annotated[None, Depends(public_route)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
AnyPrincipal = Annotated[Principal, Depends(authenticated)]
Citizen = Annotated[Principal, citizen()]
Staff = Annotated[Principal, staff()]
StaffMfa = Annotated[Principal, staff(mfa=True)]
Admin = Annotated[Principal, admin()]


def is_auth_dependency(func: Any) -> bool:
    return hasattr(func, AUTH_MARK)
