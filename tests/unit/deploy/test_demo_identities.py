"""The demo identities: seeded into the gateway's IdP through its provisioning functions, each
logs in the way its kind does (staff with password + the fixed TOTP secret, citizens and the
business with a password, the card file with JPKI, the demo client with client_credentials),
and production refuses all of it."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from pydantic import SecretStr, ValidationError
from typer.testing import CliRunner

from deploy import demo_identities
from deploy.cli import app as cli
from deploy.provision import seed_all, seed_identities
from deploy.stack import resolve_stack
from gateway.app import create_app
from gateway.idp import provisioning
from gateway.idp.jpki_client import Card
from gateway.idp.service import IdentityProvider
from gateway.routing import RouteTable
from gateway.runtime import GatewayRuntime
from gateway.settings import DEMO_CLIENT_ID, GatewaySettings, ServiceClientConfig
from services.kit.metrics import Metrics
from services.kit.settings import dev_secret
from tests.support.databases import backends, database_url

CHEAP = {"password_hash_memory_kib": 64, "password_hash_time_cost": 1}
FORM = {"content-type": "application/x-www-form-urlencoded"}


def settings_in(var_dir: Path, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {"var_dir": var_dir, "log_access": False, **CHEAP}
    values.update(overrides)
    return GatewaySettings(**values)


@pytest.fixture(params=backends())
async def seeded_gateway(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    async with database_url(request.param, tmp_path) as url:
        async for client in _seeded(settings_in(tmp_path, database_url=url)):
            yield client


async def _seeded(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    assert await seed_identities(settings) == len(demo_identities.IDENTITIES)
    assert await seed_identities(settings) == len(demo_identities.IDENTITIES)  # idempotent
    gateway = create_app(settings)
    transport = httpx.ASGITransport(gateway, raise_app_exceptions=False)
    async with (
        gateway.router.lifespan_context(gateway),
        httpx.AsyncClient(transport=transport, base_url="http://gateway.test") as client,
    ):
        yield client


async def login(client: httpx.AsyncClient, user: str, **extra: str) -> httpx.Response:
    demo = demo_identities.identity(user).account
    form = {"grant_type": "password", "username": demo.email, "password": demo.password, **extra}
    return await client.post("/auth/token", data=form, headers=FORM)


async def me(client: httpx.AsyncClient, token: str) -> dict[str, Any]:
    answer = await client.get("/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


@pytest.mark.parametrize("user", ["admin", "bosai", "kiki", "shimin-kacho", "auditor"])
async def test_staff_log_in_with_their_password_and_the_printed_code(
    seeded_gateway: httpx.AsyncClient, user: str
) -> None:
    demo = demo_identities.identity(user).account
    needs_code = await login(seeded_gateway, user)
    assert needs_code.json()["type"].endswith("/totp-required")  # TOTP enrolled already
    code, remaining = demo_identities.current_totp(user)
    assert 1 <= remaining <= 30
    assert demo.totp_secret is not None
    assert pyotp.TOTP(demo.totp_secret).verify(code, valid_window=1)
    tokens = await login(seeded_gateway, user, totp=code)
    assert tokens.status_code == 200, tokens.text
    claims = await me(seeded_gateway, tokens.json()["access_token"])
    assert claims["sub"] == demo.id
    assert claims["kind"] == "staff"
    assert set(claims["roles"]) == set(demo.roles)
    assert claims["department"] == demo.department
    assert (claims["acr"], claims["amr"]) == ("mfa", ["pwd", "otp"])  # the demo's approvals


async def test_citizens_and_the_business_log_in_with_a_password(
    seeded_gateway: httpx.AsyncClient,
) -> None:
    for user, kind in (("taro", "citizen"), ("hanako", "citizen"), ("shoji", "business")):
        tokens = await login(seeded_gateway, user)
        assert tokens.status_code == 200, tokens.text
        claims = await me(seeded_gateway, tokens.json()["access_token"])
        assert claims["kind"] == kind
        assert claims["account"]["email_verified"] is True


async def test_the_card_file_logs_in_its_citizen(
    seeded_gateway: httpx.AsyncClient, tmp_path: Path
) -> None:
    hanako = demo_identities.identity("hanako").account
    path = demo_identities.card_path(settings_in(tmp_path), hanako)
    assert path is not None
    card = Card.load(path)
    challenge = (await seeded_gateway.post("/auth/jpki/challenge")).json()
    answer = await seeded_gateway.post(
        "/auth/jpki/token", json=card.token_request(challenge["nonce"])
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["acr"] == "jpki"
    assert (await me(seeded_gateway, answer.json()["access_token"]))["sub"] == hanako.id


async def test_the_demo_client_gets_every_scope_it_asks_for(
    seeded_gateway: httpx.AsyncClient,
) -> None:
    secret = dev_secret(DEMO_CLIENT_ID).get_secret_value()
    basic = base64.b64encode(f"{DEMO_CLIENT_ID}:{secret}".encode()).decode()
    answer = await seeded_gateway.post(
        "/auth/token",
        data={"grant_type": "client_credentials", "scope": "webhooks:manage payments:write"},
        headers={**FORM, "Authorization": f"Basic {basic}"},
    )
    assert answer.status_code == 200, answer.text
    assert set(answer.json()["scope"].split()) == {"webhooks:manage", "payments:write"}


async def test_up_seeds_them_once_and_lists_them(tmp_path: Path) -> None:
    stack = resolve_stack(var_dir=tmp_path)
    first = await seed_all(stack, only_first_time=True)
    again = await seed_all(stack, only_first_time=True)
    assert first[0].service == "identities"
    assert first[0].count == len(demo_identities.IDENTITIES)
    assert again[0].count is None
    listing = demo_identities.describe(stack.gateway)
    for item in demo_identities.IDENTITIES:
        assert item.account.email in listing
        assert item.account.password in listing
    assert "webhooks:manage" in listing


def test_the_cli_lists_accounts_and_prints_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["accounts", "--var-dir", str(tmp_path)])
    assert listed.exit_code == 0, listed.output
    assert "bosai.taro@city.demo.example.jp" in listed.output
    code = runner.invoke(cli, ["totp", "bosai", "--var-dir", str(tmp_path)])
    assert code.exit_code == 0, code.output
    assert code.stdout.strip().isdigit()
    assert len(code.stdout.strip()) == 6
    citizen = runner.invoke(cli, ["totp", "taro", "--var-dir", str(tmp_path)])
    assert citizen.exit_code != 0


def production(**overrides: Any) -> GatewaySettings:
    return GatewaySettings(
        environment="production",
        simulation=False,
        service_clients={"svc-x": ServiceClientConfig(secret=SecretStr("from-the-vault"))},
        idp_secret=SecretStr("idp-secret-from-the-vault"),
        **overrides,
    )


async def test_production_refuses_every_demo_identity(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed = production(var_dir=tmp_path)
    assert closed.demo_identities is False
    assert DEMO_CLIENT_ID not in closed.service_clients
    with pytest.raises(ValidationError, match="demo_identities"):
        production(demo_identities=True)
    with pytest.raises(ValidationError, match="demo_identities"):
        GatewaySettings(simulation=False, demo_identities=True)
    with pytest.raises(provisioning.DemoIdentitiesRefused):
        await seed_identities(closed)
    runtime = GatewayRuntime(
        settings=closed, routes=RouteTable(closed.routes), metrics=Metrics("t")
    )
    idp = IdentityProvider(closed, runtime)
    with pytest.raises(provisioning.DemoIdentitiesRefused):
        await provisioning.upsert_account(idp, demo_identities.identity("admin").account)

    monkeypatch.setenv("GATEWAY_SIMULATION", "false")
    runner = CliRunner()
    for verb in (["accounts"], ["totp", "admin"]):
        refused = runner.invoke(cli, [*verb, "--var-dir", str(tmp_path)])
        assert refused.exit_code != 0
        assert "refusing" in refused.output
    assert not (tmp_path / "gateway.db").exists()


async def test_swagger_authorize_requests_get_tokens(seeded_gateway: httpx.AsyncClient) -> None:
    """What Swagger UI's Authorize button posts for the two declared flows."""
    taro = demo_identities.identity("taro").account
    password_flow = await seeded_gateway.post(
        "/auth/token",
        content=f"grant_type=password&username={taro.email}&password={taro.password}&scope=",
        headers=FORM,
    )
    assert password_flow.status_code == 200, password_flow.text
    secret = dev_secret(DEMO_CLIENT_ID).get_secret_value()
    basic = base64.b64encode(f"{DEMO_CLIENT_ID}:{secret}".encode()).decode()
    client_flow = await seeded_gateway.post(
        "/auth/token",
        content="grant_type=client_credentials&scope=payments%3Aread%20webhooks%3Amanage",
        headers={**FORM, "Authorization": f"Basic {basic}"},
    )
    assert client_flow.status_code == 200, client_flow.text
    assert client_flow.json()["scope"] == "payments:read webhooks:manage"
