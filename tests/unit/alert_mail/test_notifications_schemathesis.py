"""schemathesis against the notification endpoints of alert_mail's OpenAPI: no generated
request causes a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from starlette.testclient import TestClient

from deploy.mailsink import MailSink
from tests.support.schemathesis_support import send
from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.conftest import make_app

TOKENS = TokenFactory()
SINK = MailSink(port=2525)  # never started: the workers stay off and nothing is sent
SCOPES = ("notifications:send", "notifications:manage")
schema = schemathesis.openapi.from_dict(
    make_app("sqlite+aiosqlite:///:memory:", TOKENS, SINK, background=False).openapi()
).include(path_regex=r"^/v1/notifications")


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('schemathesis') / 'alert_mail.db'}"
    app = make_app(url, TOKENS, SINK, background=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.post(  # something to find, so generated ids sometimes hit real rows
            "/v1/notifications/templates",
            json={"name": "schemathesis", "subject": "((a))", "body": "((b??c)) ((a))"},
            headers=TOKENS.service("svc-schemathesis", *SCOPES),
        )
        yield client


@schema.parametrize()
@hypothesis.settings(
    max_examples=40, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)
def test_no_generated_request_causes_a_server_error(case: Any, app_client: TestClient) -> None:
    response = send(app_client, case, TOKENS.service("svc-schemathesis", *SCOPES))
    assert response.status_code < 500, (case.method, case.path, response.text)
