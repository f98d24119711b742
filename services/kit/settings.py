"""Settings shared by every service. Each service subclasses with its own env prefix.

No settings object is built at import time: apps take one in `create_app(settings)`.
"""

from __future__ import annotations

from email.utils import parseaddr
from pathlib import Path
from typing import Literal, Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_MARK = "dev-insecure"  # noqa: S105 - a marker, not a secret
PAYMENTS_WEBHOOK_PATH = "/webhooks/payments"


def dev_secret(name: str) -> SecretStr:
    return SecretStr(f"{DEV_SECRET_MARK}-{name}-change-me")


def refuse_development_secrets(settings: BaseSettings) -> None:
    """Production must run outside simulation mode and with no development secret."""
    if getattr(settings, "environment", None) != "production":
        return
    if getattr(settings, "simulation", False):
        raise ValueError("simulation mode must be off in production")
    for name, value in settings:
        if isinstance(value, SecretStr) and DEV_SECRET_MARK in value.get_secret_value():
            raise ValueError(f"{name} still holds a development secret")


DEFAULT_SENDER_NAME = "デモ市役所"
SENDER_NAME_HELP = "the display name of every mail the suite sends: one per city"


def mail_sender(name: str, mail_from: str) -> str:
    """`"Name" <address>`: the city's one sender name with an app's own address (a display
    name inside `mail_from` gives way to it)."""
    address = parseaddr(mail_from)[1] or mail_from
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{address}>'


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYHALL_", extra="ignore", frozen=True)

    service_name: str = "service"
    environment: Literal["development", "test", "production"] = "development"
    simulation: bool = Field(True, description="enables /sim/* and test clocks")
    host: str = "127.0.0.1"
    port: int = Field(8001, ge=1, le=65535)
    var_dir: Path = Path("./var")
    database_url: str = Field("", description="default: sqlite+aiosqlite:///<var_dir>/<service>.db")
    db_pool_size: int = Field(10, ge=1, le=200)
    migrate_on_start: bool = True

    gateway_url: str = "http://127.0.0.1:8000"
    jwks_url: str = Field("", description="default: <gateway_url>/.well-known/jwks.json")
    jwt_issuer: str = "cityhall"
    jwt_audience: str = "cityhall"
    revocation_poll_seconds: float = Field(
        1.0,
        ge=0,
        le=2,
        description="how often the gateway's revocation list is re-read (logout, disabled "
        "accounts, revoked sessions); 0: not at all",
    )
    clock_poll_seconds: float = Field(
        0.5,
        gt=0,
        le=60,
        description="simulation mode: how often every process of the service (replicas, "
        "`cityhall worker`) re-reads the simulation clock the service's /sim/clock moved",
    )
    client_id: str = Field("", description="this service's client id at the gateway")
    gateway_identity: str = Field(
        "svc-gateway", description="sub of the gateway's own tokens: the only mover of the clock"
    )
    client_secret: SecretStr = Field(default_factory=lambda: dev_secret("client"))
    payments_url: str = Field(
        "", description="where payments_mock's API is reached; default: the gateway_url"
    )
    payments_webhook_url: str = Field(
        "",
        description=(
            "the URL payments_mock posts this service's payment webhooks to; "
            "default http://<host>:<port>/webhooks/payments"
        ),
    )
    notify_url: str = Field(
        "", description="where alert_mail's /v1/notifications is reached; default: the gateway_url"
    )

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(1025, ge=1, le=65535)
    mail_from: str = Field("no-reply@city.demo.example.jp", description="this app's address")
    mail_sender_name: str = Field(
        DEFAULT_SENDER_NAME, min_length=1, max_length=64, description=SENDER_NAME_HELP
    )

    api_docs: bool | None = Field(
        None, description="serve /docs, /redoc, /openapi.json; default: on except in production"
    )
    metrics_token: SecretStr = Field(
        default_factory=lambda: SecretStr(""),
        description="bearer token /metrics requires; empty: open, or off in production",
    )

    max_body_bytes: int = Field(1_048_576, ge=1024)
    outbox_max_attempts: int = Field(8, ge=1, le=100)
    outbox_batch_size: int = Field(100, ge=1, le=1000)
    log_access: bool = True

    @property
    def mail_sender(self) -> str:
        return mail_sender(self.mail_sender_name, self.mail_from)

    @model_validator(mode="after")
    def _fill_defaults(self) -> Self:
        if not self.database_url:
            path = self.var_dir / f"{self.service_name}.db"
            object.__setattr__(self, "database_url", f"sqlite+aiosqlite:///{path}")
        if not self.jwks_url:
            object.__setattr__(self, "jwks_url", f"{self.gateway_url}/.well-known/jwks.json")
        if not self.client_id:
            object.__setattr__(self, "client_id", f"svc-{self.service_name}")
        for name in ("payments_url", "notify_url"):
            if not getattr(self, name):
                object.__setattr__(self, name, self.gateway_url)
        if not self.payments_webhook_url:
            url = f"http://{self.host}:{self.port}{PAYMENTS_WEBHOOK_PATH}"
            object.__setattr__(self, "payments_webhook_url", url)
        return self

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> Self:
        refuse_development_secrets(self)
        return self
