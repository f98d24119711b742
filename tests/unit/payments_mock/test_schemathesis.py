"""schemathesis against payments_mock's own OpenAPI: no generated request causes a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from starlette.testclient import TestClient

from tests.support.schemathesis_support import send
from tests.support.tokens import TokenFactory
from tests.unit.payments_mock.conftest import ALL_SCOPES, make_app

TOKENS = TokenFactory()
schema = schemathesis.openapi.from_dict(make_app("sqlite+aiosqlite:///:memory:", TOKENS).openapi())


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('schemathesis') / 'payments.db'}"
    with TestClient(make_app(url, TOKENS), raise_server_exceptions=False) as client:
        client.post(  # something to find, so generated ids sometimes hit real rows
            "/v1/payments",
            json={"amount": 100, "method": "konbini", "description": "schemathesis"},
            headers=TOKENS.service("svc-schemathesis", *ALL_SCOPES),
        )
        yield client


@schema.parametrize()
@hypothesis.settings(
    max_examples=30, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)
def test_no_generated_request_causes_a_server_error(case: Any, app_client: TestClient) -> None:
    response = send(app_client, case, TOKENS.service("svc-schemathesis", *ALL_SCOPES, "sim"))
    assert response.status_code < 500, (case.method, case.path, response.text)
