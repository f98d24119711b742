"""schemathesis against the gateway's own OpenAPI (IdP, audit, operations, simulation) with
rate limits off: every generated request gets a documented answer; errors are problems, the
content type is documented and `Allow` is right."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.keys import KeyStore
from gateway.rate_limit.settings import RateLimitSettings
from gateway.tokens import issue_access_token
from services.kit.assurance import Acr
from tests.support.schemathesis_support import assert_conforms, send

from .support import gateway_settings


def _app(var_dir: Path) -> FastAPI:
    return create_app(
        gateway_settings(var_dir, rate_limits=RateLimitSettings(enabled=False), smtp_port=9)
    )


schema = schemathesis.openapi.from_dict(_app(Path("/nonexistent-schema-only")).openapi())


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    var_dir = tmp_path_factory.mktemp("gateway-schemathesis")
    with TestClient(_app(var_dir), raise_server_exceptions=False) as client:
        keystore: KeyStore = client.app.state.runtime.keystore  # type: ignore[attr-defined]
        admin = issue_access_token(
            keystore,
            sub="stf_fuzz",
            kind="staff",
            roles=("admin",),
            scopes=(),
            ttl=3600,
            issuer="cityhall",
            audience="cityhall",
            department="joho",
            acr=Acr.MFA,
            now=datetime.now(UTC),
        )
        yield client, admin


@schema.parametrize()
@hypothesis.settings(
    max_examples=8, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)
def test_every_generated_request_gets_a_documented_answer(
    case: Any, gateway: tuple[TestClient, str]
) -> None:
    client, admin = gateway
    response = send(client, case, {"Authorization": f"Bearer {admin}"})
    assert_conforms(case, response)
