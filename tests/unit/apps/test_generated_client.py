"""A client generated from the gateway's merged `/openapi.json` by a standard generator
(openapi-python-client) logs in through the declared OAuth2 token endpoint and calls one
endpoint of each service, the whole suite running in-process behind the gateway."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from deploy import demo_identities
from gateway.settings import DEMO_CLIENT_ID
from services.kit.settings import dev_secret
from tests.support.suite import GATEWAY, InProcessSuite, in_process_suite

PACKAGE = "cityhall_generated_client"


@pytest.fixture
async def suite(tmp_path: Path) -> AsyncIterator[InProcessSuite]:
    async with in_process_suite(tmp_path) as running:
        yield running


def _write_inputs(document: dict[str, Any], out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True)
    spec = out / "openapi.json"
    spec.write_text(json.dumps(document), encoding="utf-8")
    config = out / "config.yaml"
    config.write_text(f"post_hooks: []\npackage_name_override: {PACKAGE}\n", encoding="utf-8")
    return spec, config


async def generate_client(document: dict[str, Any], out: Path) -> Any:
    spec, config = await asyncio.to_thread(_write_inputs, document, out)
    generator = Path(sys.executable).parent / "openapi-python-client"
    process = await asyncio.create_subprocess_exec(
        str(generator),
        "generate",
        "--path",
        str(spec),
        "--config",
        str(config),
        "--meta",
        "none",
        "--output-path",
        str(out / PACKAGE),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()
    assert b"duplicate models" not in output, output.decode()
    sys.path.insert(0, str(out))
    try:
        for cached in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
            del sys.modules[cached]
        return importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(out))


def _api(package: Any, module: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{module}")


async def test_a_generated_client_logs_in_and_calls_every_service(
    suite: InProcessSuite, tmp_path: Path
) -> None:
    async with suite.http() as http:
        document = (await http.get("/openapi.json")).json()
    assert document["x-unavailable-services"] == []
    schemes = document["components"]["securitySchemes"]
    assert set(schemes["OAuth2"]["flows"]) == {"password", "clientCredentials"}
    assert schemes["OAuth2"]["flows"]["password"]["tokenUrl"] == "/auth/token"
    package = await generate_client(document, tmp_path / "generated")

    token_api = _api(package, "api.auth.token_auth_token_post")
    body_model = _api(package, "models.token_auth_token_post_body").TokenAuthTokenPostBody
    grant = _api(package, "models.token_auth_token_post_body_grant_type")
    grant_type = grant.TokenAuthTokenPostBodyGrantType
    transport = httpx.ASGITransport(suite.gateway, raise_app_exceptions=False)
    anonymous = package.Client(base_url=GATEWAY, httpx_args={"transport": transport})

    taro = demo_identities.identity("taro").account
    login = await token_api.asyncio_detailed(
        client=anonymous,
        body=body_model(
            grant_type=grant_type("password"), username=taro.email, password=taro.password
        ),
    )
    assert login.status_code == 200, login.content
    citizen = package.AuthenticatedClient(
        base_url=GATEWAY, token=login.parsed.access_token, httpx_args={"transport": transport}
    )
    secret = dev_secret(DEMO_CLIENT_ID).get_secret_value()
    service_login = await token_api.asyncio_detailed(
        client=anonymous,
        body=body_model(
            grant_type=grant_type("client_credentials"),
            client_id=DEMO_CLIENT_ID,
            client_secret=secret,
            scope="payments:read payments:write",
        ),
    )
    assert service_login.status_code == 200, service_login.content
    service = package.AuthenticatedClient(
        base_url=GATEWAY,
        token=service_login.parsed.access_token,
        httpx_args={"transport": transport},
    )

    procedures = await _api(package, "api.procedures.list_procedures_v1_procedures_get").asyncio(
        client=citizen
    )
    assert procedures.items, "e_application: the demo city's procedures"
    facilities = await _api(package, "api.facilities.list_facilities_v1_facilities_get").asyncio(
        client=citizen
    )
    assert facilities.items, "facility_booking: the demo city's facilities"
    mine = await _api(
        package, "api.subscriptions.list_mine_v1_subscriptions_mine_get"
    ).asyncio_detailed(client=citizen)
    assert mine.status_code == 200, mine.content
    assert mine.parsed.items == []
    payments = await _api(package, "api.payments.list_payments_v1_payments_get").asyncio_detailed(
        client=service
    )
    assert payments.status_code == 200, payments.content
    assert payments.parsed.items == []
    refused = await _api(package, "api.payments.list_payments_v1_payments_get").asyncio_detailed(
        client=citizen
    )
    assert refused.status_code == 403  # the declared scope is enforced
