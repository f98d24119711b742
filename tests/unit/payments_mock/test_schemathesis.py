"""schemathesis against payments_mock's own OpenAPI: no generated request causes a 5xx, a
non-problem error, an undocumented content type or a wrong `Allow`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from starlette.testclient import TestClient

from tests.support.schemathesis_support import assert_conforms, send
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
def test_every_generated_request_gets_a_documented_answer(
    case: Any, app_client: TestClient
) -> None:
    response = send(app_client, case, TOKENS.service("svc-schemathesis", *ALL_SCOPES, "sim"))
    assert_conforms(case, response)
