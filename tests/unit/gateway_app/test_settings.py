"""Gateway settings: routing is data, and production refuses development secrets."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from gateway.settings import GatewaySettings, ServiceClientConfig
from services.kit.settings import ServiceSettings


def test_defaults_match_the_services() -> None:
    settings = GatewaySettings()
    assert settings.port == 8000
    assert settings.database_url.endswith("var/gateway.db")
    assert str(settings.keys_path).endswith("var/gateway/signing-keys.json")
    assert settings.routes["/v1/lotteries"] == "facility_booking"
    assert settings.upstreams["payments_mock"] == "http://127.0.0.1:8004"
    service_default = ServiceSettings(service_name="e_application")
    client = settings.service_clients[service_default.client_id]
    assert client.secret == service_default.client_secret
    assert "audit:write" in client.scopes


def test_routes_and_upstreams_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_UPSTREAMS", '{"library": "http://127.0.0.1:8010"}')
    monkeypatch.setenv("GATEWAY_ROUTES", '{"/v1/books": "library"}')
    settings = GatewaySettings()
    assert settings.routes == {"/v1/books": "library"}
    assert settings.upstreams == {"library": "http://127.0.0.1:8010"}


@pytest.mark.parametrize(
    ("routes", "upstreams"),
    [({"/v1/books": "library"}, {}), ({"/v1/books/": "library"}, {"library": "http://x"})],
)
def test_bad_route_tables_are_refused(routes: dict[str, str], upstreams: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        GatewaySettings(routes=routes, upstreams=upstreams)


def test_production_refuses_development_client_secrets() -> None:
    with pytest.raises(ValidationError, match="development secret"):
        GatewaySettings(environment="production", simulation=False)
    clients = {"svc-x": ServiceClientConfig(secret=SecretStr("s3cret-from-vault"))}
    idp_secret = SecretStr("idp-secret-from-vault")
    with pytest.raises(ValidationError, match="idp_secret still holds a development secret"):
        GatewaySettings(environment="production", simulation=False, service_clients=clients)
    production = GatewaySettings(
        environment="production", simulation=False, service_clients=clients, idp_secret=idp_secret
    )
    assert production.service_clients["svc-x"].scopes == []
    with pytest.raises(ValidationError, match="simulation"):
        GatewaySettings(environment="production", service_clients=clients)


def test_rate_limits_and_redis_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = GatewaySettings()
    assert defaults.redis_url == ""
    assert defaults.rate_limits.enabled
    assert set(defaults.rate_limits.classes) == {"auth", "write", "read"}
    assert "/auth/email-login" in defaults.rate_limits.auth_paths
    monkeypatch.setenv("GATEWAY_REDIS_URL", "redis://127.0.0.1:6379/3")
    monkeypatch.setenv(
        "GATEWAY_RATE_LIMITS",
        '{"classes": {"read": {"per_principal": {"rate": 100, "burst": 500}}}}',
    )
    settings = GatewaySettings()
    assert settings.redis_url == "redis://127.0.0.1:6379/3"
    read = settings.rate_limits.classes["read"]
    assert read.per_principal is not None
    assert (read.per_principal.rate, read.per_principal.burst) == (100, 500)
    assert read.per_ip is None
    assert set(settings.rate_limits.classes) == {"read"}  # only what is listed is limited


@pytest.mark.parametrize(
    "limits",
    [
        '{"classes": {"everything": {}}}',
        '{"classes": {"read": {"per_ip": {"rate": 0, "burst": 5}}}}',
        '{"classes": {"read": {"per_ip": {"rate": 1, "burst": 0}}}}',
        '{"auth_paths": ["auth/token"]}',
    ],
)
def test_bad_rate_limits_are_refused(monkeypatch: pytest.MonkeyPatch, limits: str) -> None:
    monkeypatch.setenv("GATEWAY_RATE_LIMITS", limits)
    with pytest.raises(ValidationError):
        GatewaySettings()
