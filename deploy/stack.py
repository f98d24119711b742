"""What `cityhall up` runs and how every process is configured, in one place.

The launcher resolves each app's settings once (its own environment variables, e.g.
`PAYMENTS_MOCK_PORT` or `GATEWAY_PORT`, plus what the launcher decides: the var dir, the
gateway's URL, the mail sink's address) and hands every child the resolved values as
environment variables, so all processes agree on where everything is.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.settings import GatewaySettings
from services.alert_mail.settings import Settings as AlertMailSettings
from services.e_application.settings import Settings as EApplicationSettings
from services.facility_booking.settings import Settings as FacilityBookingSettings
from services.kit.app import RuntimeOptions
from services.kit.settings import DEFAULT_SENDER_NAME, SENDER_NAME_HELP, ServiceSettings
from services.payments_mock.settings import Settings as PaymentsMockSettings

SERVICE_NAMES = ("e_application", "facility_booking", "alert_mail", "payments_mock")
GATEWAY = "gateway"
MAILSINK = "mailsink"
PID_FILE = "cityhall-up.json"
SEED_STATE_FILE = "seed-state.json"
DEMO_CITY = Path(__file__).parent / "seed" / "demo_city.json"


class LauncherSettings(BaseSettings):
    """The launcher's own settings (`CITYHALL_` prefix); each app keeps its own prefix."""

    model_config = SettingsConfigDict(env_prefix="CITYHALL_", extra="ignore", frozen=True)

    var_dir: Path = Path("./var")
    host: str = Field("127.0.0.1", description="where the mail sink listens")
    smtp_port: int = Field(1025, ge=1, le=65535)
    mailbox_port: int = Field(8025, ge=1, le=65535)
    mailbox_capacity: int = Field(10_000, ge=1, le=1_000_000)
    startup_timeout_seconds: float = Field(60.0, gt=0, le=600)
    stop_timeout_seconds: float = Field(10.0, gt=0, le=300)
    seed_file: Path = DEMO_CITY
    mail_sender_name: str = Field(
        DEFAULT_SENDER_NAME, min_length=1, max_length=64, description=SENDER_NAME_HELP
    )


@dataclass(frozen=True, slots=True)
class ServiceKind:
    name: str
    settings: type[ServiceSettings]

    @property
    def env_prefix(self) -> str:
        return str(self.settings.model_config.get("env_prefix", ""))

    def create_app(self) -> Callable[..., FastAPI]:
        """The service's `create_app`, imported only when needed (a child runs one service,
        and a service's routes and models take a while to import)."""
        module = importlib.import_module(f"services.{self.name}.app")
        factory: Callable[..., FastAPI] = module.create_app
        return factory


SERVICES: dict[str, ServiceKind] = {
    "e_application": ServiceKind("e_application", EApplicationSettings),
    "facility_booking": ServiceKind("facility_booking", FacilityBookingSettings),
    "alert_mail": ServiceKind("alert_mail", AlertMailSettings),
    "payments_mock": ServiceKind("payments_mock", PaymentsMockSettings),
}


def connect_host(host: str) -> str:
    """Where to connect to a server bound to `host` (a wildcard bind is reached locally)."""
    if host in ("", "0.0.0.0"):  # noqa: S104 - recognising the wildcard, not binding it
        return "127.0.0.1"
    if host == "::":
        return "::1"
    return host


def base_url(host: str, port: int) -> str:
    host = connect_host(host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@dataclass(frozen=True, slots=True)
class AppProcess:
    """One app of the stack: where it listens and the environment that configures it."""

    name: str
    role: Literal["gateway", "service", "mailsink"]
    host: str
    port: int
    env: Mapping[str, str]
    extra_port: int | None = None  # the mail sink's SMTP port

    @property
    def url(self) -> str:
        return base_url(self.host, self.port)

    @property
    def health_url(self) -> str:
        return f"{self.url}/healthz"


@dataclass(frozen=True, slots=True)
class Stack:
    launcher: LauncherSettings
    gateway: GatewaySettings
    services: dict[str, ServiceSettings]
    apps: tuple[AppProcess, ...]

    @property
    def var_dir(self) -> Path:
        return self.launcher.var_dir

    @property
    def gateway_url(self) -> str:
        return base_url(self.gateway.host, self.gateway.port)

    def app(self, name: str) -> AppProcess:
        return next(a for a in self.apps if a.name == name)

    def environment(self) -> dict[str, str]:
        """Every variable any app of the stack reads (for the single-process mode)."""
        merged: dict[str, str] = {}
        for app in self.apps:
            merged.update(app.env)
        return merged


def _dump(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def resolve_stack(
    *,
    var_dir: Path | None = None,
    host: str | None = None,
    seed_file: Path | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Stack:
    """Settings of every app, from the environment plus the launcher's decisions.

    `overrides` maps an app name (`gateway`, a service, or `launcher`) to settings that win
    over the environment, e.g. the free ports and databases the pytest plugin picked."""
    chosen = overrides or {}
    launcher_values: dict[str, Any] = dict(chosen.get("launcher", {}))
    if var_dir is not None:
        launcher_values["var_dir"] = var_dir
    if host is not None:
        launcher_values["host"] = host
    if seed_file is not None:
        launcher_values["seed_file"] = seed_file
    launcher = LauncherSettings(**launcher_values)
    var = launcher.var_dir.resolve()
    launcher = launcher.model_copy(update={"var_dir": var})
    common: dict[str, Any] = {"var_dir": var}
    if host is not None:
        common["host"] = host

    # Services first: the gateway needs their URLs, they need the gateway's.
    gateway_probe = GatewaySettings(**{**common, **chosen.get(GATEWAY, {})})
    gateway_url = base_url(gateway_probe.host, gateway_probe.port)
    services: dict[str, ServiceSettings] = {}
    for name, kind in SERVICES.items():
        # Links in mails (alert_mail's `public_url`) point at the gateway, the front door.
        links: dict[str, Any] = (
            {"public_url": gateway_url} if "public_url" in kind.settings.model_fields else {}
        )
        services[name] = kind.settings(
            **{
                **common,
                **links,
                "gateway_url": gateway_url,
                "jwks_url": f"{gateway_url}/.well-known/jwks.json",
                "smtp_host": connect_host(launcher.host),
                "smtp_port": launcher.smtp_port,
                "mail_sender_name": launcher.mail_sender_name,
                **chosen.get(name, {}),
            }
        )
    upstreams = {name: base_url(s.host, s.port) for name, s in services.items()}
    gateway = GatewaySettings(
        **{
            **common,
            "upstreams": upstreams,
            "smtp_host": connect_host(launcher.host),
            "smtp_port": launcher.smtp_port,
            "mail_sender_name": launcher.mail_sender_name,
            **chosen.get(GATEWAY, {}),
        }
    )

    apps: list[AppProcess] = []
    service_fields = (
        "host",
        "port",
        "var_dir",
        "database_url",
        "gateway_url",
        "jwks_url",
        "smtp_host",
        "smtp_port",
        "mail_sender_name",
        "environment",
        "simulation",
    )
    for name, settings in services.items():
        prefix = SERVICES[name].env_prefix
        fields = service_fields + (("public_url",) if hasattr(settings, "public_url") else ())
        env = {f"{prefix}{f.upper()}": _dump(getattr(settings, f)) for f in fields}
        apps.append(AppProcess(name, "service", settings.host, settings.port, env))
    gateway_fields = (
        "host",
        "port",
        "var_dir",
        "database_url",
        "upstreams",
        "simulation",
        "smtp_host",
        "smtp_port",
        "mail_sender_name",
    )
    gateway_env = {f"GATEWAY_{f.upper()}": _dump(getattr(gateway, f)) for f in gateway_fields}
    gateway_env["GATEWAY_ENVIRONMENT"] = gateway.environment
    apps.insert(0, AppProcess(GATEWAY, "gateway", gateway.host, gateway.port, gateway_env))
    sink_env = {
        "CITYHALL_HOST": launcher.host,
        "CITYHALL_SMTP_PORT": str(launcher.smtp_port),
        "CITYHALL_MAILBOX_PORT": str(launcher.mailbox_port),
        "CITYHALL_MAILBOX_CAPACITY": str(launcher.mailbox_capacity),
        "CITYHALL_VAR_DIR": str(var),
    }
    apps.append(
        AppProcess(
            MAILSINK,
            "mailsink",
            launcher.host,
            launcher.mailbox_port,
            sink_env,
            extra_port=launcher.smtp_port,
        )
    )
    return Stack(launcher=launcher, gateway=gateway, services=services, apps=tuple(apps))


def build_service_app(name: str, options: RuntimeOptions | None = None) -> FastAPI:
    """A service's app with settings read from the environment (as the launcher set it)."""
    kind = SERVICES[name]
    return kind.create_app()(kind.settings(), options or RuntimeOptions())
