"""Gateway settings; each field is also read from the environment with the `GATEWAY_` prefix.

Routing is data: `routes` maps a path prefix to a service name and `upstreams` maps a service
name to its base URL, so adding a service is a settings change (`GATEWAY_ROUTES` and
`GATEWAY_UPSTREAMS` take JSON objects). No settings object is built at import time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.audit_log.settings import AuditSettings
from gateway.rate_limit.settings import RateLimitSettings
from services.kit.settings import (
    DEFAULT_SENDER_NAME,
    DEV_SECRET_MARK,
    SENDER_NAME_HELP,
    dev_secret,
    mail_sender,
    refuse_development_secrets,
)

SERVICE_NAMES = ("e_application", "facility_booking", "alert_mail", "payments_mock")


class ServiceClientConfig(BaseModel):
    """One OAuth2 client (client_credentials) and the scopes it may be granted."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret: SecretStr
    scopes: list[str] = Field(default_factory=list)


def default_upstreams() -> dict[str, str]:
    return {name: f"http://127.0.0.1:{8001 + i}" for i, name in enumerate(SERVICE_NAMES)}


def default_routes() -> dict[str, str]:
    table = {
        "e_application": ("/v1/procedures", "/v1/applications"),
        "facility_booking": (
            "/v1/facilities",
            "/v1/facility-users",
            "/v1/reservations",
            "/v1/lotteries",
        ),
        "alert_mail": (
            "/v1/subscriptions",
            "/v1/alerts",
            "/v1/notifications",
            "/v1/feeds",
            "/v1/categories",
            "/v1/districts",
            "/v1/stream",
            "/v1/callups",
        ),
        "payments_mock": (
            "/v1/payments",
            "/v1/payment-methods",
            "/v1/webhook-endpoints",
            "/v1/simulate",
            "/v1/settlements",
        ),
    }
    return {prefix: service for service, prefixes in table.items() for prefix in prefixes}


# What each service needs from the others, besides shipping its audit events.
_SERVICE_SCOPES: dict[str, tuple[str, ...]] = {
    "e_application": ("payments:write", "payments:read", "webhooks:manage", "notifications:send"),
    "facility_booking": (
        "payments:write",
        "payments:read",
        "webhooks:manage",
        "notifications:send",
    ),
    "alert_mail": (),
    "payments_mock": (),
}


def default_service_clients() -> dict[str, ServiceClientConfig]:
    """One client per service; the secret equals the services' default `client_secret`."""
    return {
        f"svc-{name}": ServiceClientConfig(
            secret=dev_secret("client"), scopes=["audit:write", *_SERVICE_SCOPES[name]]
        )
        for name in SERVICE_NAMES
    }


# The demo client of a front-end or an integration suite: every scope a client app uses.
DEMO_CLIENT_ID = "demo-app"
DEMO_CLIENT_SCOPES = (
    "payments:read",
    "payments:write",
    "payments:simulate",
    "webhooks:manage",
    "notifications:send",
    "notifications:manage",
    "sim",
)


def demo_service_clients() -> dict[str, ServiceClientConfig]:
    """Service clients accepted only in simulation mode with demo identities on."""
    return {
        DEMO_CLIENT_ID: ServiceClientConfig(
            secret=dev_secret(DEMO_CLIENT_ID), scopes=list(DEMO_CLIENT_SCOPES)
        )
    }


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    simulation: bool = Field(True, description="enables /sim/* and the gateway's test clock")
    clock_poll_seconds: float = Field(
        0.5,
        gt=0,
        le=60,
        description="simulation mode: how often every gateway replica re-reads the simulated"
        " time another replica's /sim/clock moved (kept in the gateway's database)",
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    var_dir: Path = Path("./var")
    database_url: str = Field("", description="default: sqlite+aiosqlite:///<var_dir>/gateway.db")
    db_pool_size: int = Field(10, ge=1, le=200)
    migrate_on_start: bool = True
    signing_keys_path: Path | None = Field(
        None, description="default: <var_dir>/gateway/signing-keys.json"
    )

    api_docs: bool | None = Field(
        None,
        description=(
            "serve /docs and the merged /openapi.json; default: on except in production "
            "(the services' own documents must be on too: the gateway merges them)"
        ),
    )
    metrics_token: SecretStr = Field(
        default_factory=lambda: SecretStr(""),
        description="bearer token /metrics requires; empty: open, or off in production",
    )

    issuer: str = "cityhall"
    audience: str = "cityhall"
    access_token_ttl_seconds: int = Field(900, ge=30, le=86_400)

    upstreams: dict[str, str] = Field(default_factory=default_upstreams)
    routes: dict[str, str] = Field(default_factory=default_routes)
    service_clients: dict[str, ServiceClientConfig] = Field(default_factory=default_service_clients)
    demo_identities: bool | None = Field(
        None,
        description="seed the demo accounts and accept the demo client (simulation mode only); "
        "default: on in simulation mode, refused in production",
    )
    service_identity: str = Field("svc-gateway", description="sub of the gateway's own tokens")
    service_identity_scopes: list[str] = Field(default_factory=lambda: ["sim"])
    audit: AuditSettings = Field(default_factory=AuditSettings)
    rate_limits: RateLimitSettings = Field(default_factory=RateLimitSettings)
    redis_url: str = Field(
        "",
        description="redis://…: rate-limit buckets shared by every replica, and revocations "
        "announced to them at once; empty: in memory, and replicas poll",
    )
    revocation_poll_seconds: float = Field(
        0.5, gt=0, le=2, description="how often a replica re-reads the revocation list"
    )

    upstream_connect_timeout_seconds: float = Field(3.0, gt=0, le=60)
    upstream_timeout_seconds: float = Field(
        30.0, gt=0, le=600, description="until the upstream's response headers arrive"
    )
    upstream_read_timeout_seconds: float = Field(
        60.0, gt=0, le=3600, description="longest silence inside a body (not for event streams)"
    )
    upstream_pool_limit_per_host: int = Field(128, ge=1, le=10_000)
    upstream_keepalive_seconds: float = Field(
        4.0, gt=0, le=600, description="below the upstream servers' own (uvicorn: 5 s)"
    )
    readiness_timeout_seconds: float = Field(2.0, gt=0, le=60)
    openapi_timeout_seconds: float = Field(5.0, gt=0, le=60)
    sim_timeout_seconds: float = Field(30.0, gt=0, le=600)
    trust_forwarded_headers: bool = Field(
        False, description="append to incoming X-Forwarded-* (only behind a trusted proxy)"
    )

    # Identity provider (gateway/idp): mail, signed links, password hashing, login limits.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(1025, ge=1, le=65535)
    mail_from: str = Field("no-reply@city.demo.example.jp", description="the IdP's address")
    mail_sender_name: str = Field(
        DEFAULT_SENDER_NAME, min_length=1, max_length=64, description=SENDER_NAME_HELP
    )
    public_url: str = Field("", description="base of links in mail; default http://host:port")
    idp_secret: SecretStr = Field(
        default_factory=lambda: dev_secret("idp"),
        description="signs e-mail links and encrypts TOTP secrets",
    )
    password_hash_time_cost: int = Field(2, ge=1, le=10, description="argon2id t (OWASP: 2)")
    password_hash_memory_kib: int = Field(
        19_456, ge=8, le=1_048_576, description="argon2id m in KiB (OWASP: 19 MiB); tests lower it"
    )
    refresh_token_ttl_seconds: int = Field(30 * 86_400, ge=60)
    email_link_ttl_seconds: int = Field(86_400, ge=60)
    email_login_ttl_seconds: int = Field(
        600, ge=60, le=3600, description="かんたん login links (acr=email): single use, short"
    )
    email_login_links_per_hour: int = Field(
        5, ge=1, le=100, description="per account; more requests mail nothing (mail bombing)"
    )
    login_failures_per_account: int = Field(5, ge=1, description="within the window, then 429")
    login_failures_per_ip: int = Field(20, ge=1, description="within the window, then 429")
    login_failure_window_seconds: int = Field(900, ge=1)
    jpki_dir: Path | None = Field(None, description="mock JPKI CA; default <var_dir>/gateway/jpki")
    jpki_nonce_ttl_seconds: int = Field(300, ge=5, le=3600)

    cors_allow_origins: list[str] | None = Field(
        None,
        description="origins whose pages may call the gateway (JSON list); default: "
        "http(s)://localhost|127.0.0.1 on any port in simulation mode, none in production",
    )
    cors_allow_origin_regex: str = Field("", description="or a regular expression (full match)")
    cors_max_age_seconds: int = Field(600, ge=0, le=86_400, description="preflight cache")

    max_body_bytes: int = Field(1_048_576, ge=1024, description="for the gateway's own routes")
    log_access: bool = True

    @model_validator(mode="after")
    def _fill_defaults(self) -> Self:
        if not self.database_url:
            path = self.var_dir / "gateway.db"
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{path}")
        if self.signing_keys_path is None:
            path = self.var_dir / "gateway" / "signing-keys.json"
            object.__setattr__(self, "signing_keys_path", path)
        if self.jpki_dir is None:
            object.__setattr__(self, "jpki_dir", self.var_dir / "gateway" / "jpki")
        if not self.public_url:
            object.__setattr__(self, "public_url", f"http://{self.host}:{self.port}")
        return self

    @model_validator(mode="after")
    def _demo_identities_only_in_simulation(self) -> Self:
        simulated = self.simulation and self.environment != "production"
        if self.demo_identities and not simulated:
            raise ValueError("demo_identities needs simulation mode and is refused in production")
        if self.demo_identities is None:
            object.__setattr__(self, "demo_identities", simulated)
        if self.demo_identities:
            clients = {**demo_service_clients(), **self.service_clients}
            object.__setattr__(self, "service_clients", clients)
        return self

    @model_validator(mode="after")
    def _routes_name_known_upstreams(self) -> Self:
        for prefix, service in self.routes.items():
            if not prefix.startswith("/") or prefix != prefix.rstrip("/") or "//" in prefix:
                raise ValueError(f"route prefix {prefix!r} must start with / and not end with /")
            if service not in self.upstreams:
                raise ValueError(f"route {prefix} names {service!r}, which has no upstream URL")
        return self

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Self:
        refuse_development_secrets(self)
        if self.environment != "production":
            return self
        if "*" in (self.cors_allow_origins or ()):
            raise ValueError("cors_allow_origins: name the origins; * is refused in production")
        for client_id, client in self.service_clients.items():
            if DEV_SECRET_MARK in client.secret.get_secret_value():
                raise ValueError(f"service client {client_id} still holds a development secret")
        return self

    @property
    def mail_sender(self) -> str:
        return mail_sender(self.mail_sender_name, self.mail_from)

    @property
    def keys_path(self) -> Path:
        assert self.signing_keys_path is not None  # filled by the validator
        return self.signing_keys_path

    @property
    def jpki_path(self) -> Path:
        assert self.jpki_dir is not None  # filled by the validator
        return self.jpki_dir
