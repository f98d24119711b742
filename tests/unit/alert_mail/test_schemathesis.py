"""schemathesis against alert_mail's own OpenAPI (the mailed-link pages included): every
generated request gets a documented answer; errors are problems, `Allow` is right."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from starlette.testclient import TestClient

from services.alert_mail.app import create_app
from services.alert_mail.settings import Settings
from services.kit.app import RuntimeOptions
from tests.support.schemathesis_support import assert_conforms, send
from tests.support.tokens import TokenFactory

from .conftest import PUBLIC_URL

TOKENS = TokenFactory()


def _app(db_url: str) -> FastAPI:
    settings = Settings(
        database_url=db_url,
        environment="test",
        log_access=False,
        public_url=PUBLIC_URL,
        smtp_port=9,  # nothing is sent: no background workers
    )
    return create_app(settings, RuntimeOptions(key_source=TOKENS.key_source(), background=False))


# The alert stream never ends by design (server-sent events); tests/unit/alert_mail covers it.
schema = schemathesis.openapi.from_dict(_app("sqlite+aiosqlite:///:memory:").openapi()).exclude(
    path="/v1/stream"
)


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('schemathesis') / 'alert_mail.db'}"
    with TestClient(_app(url), raise_server_exceptions=False) as client:
        yield client


@schema.parametrize()
@hypothesis.settings(
    max_examples=8, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)
def test_every_generated_request_gets_a_documented_answer(
    case: Any, app_client: TestClient
) -> None:
    response = send(app_client, case, TOKENS.admin())
    assert_conforms(case, response)
