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
