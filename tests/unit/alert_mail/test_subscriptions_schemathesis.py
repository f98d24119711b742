"""schemathesis against the subscription routes of alert_mail's OpenAPI: no generated request
(JSON or form, with or without a citizen's token) causes a server error."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from starlette.testclient import TestClient

from deploy.mailsink import MailSink
from services.alert_mail.app import create_app
from services.alert_mail.seed import seed
from services.alert_mail.settings import Settings
from tests.support.schemathesis_support import send
from tests.support.tokens import TokenFactory
from tests.unit.alert_mail.conftest import demo_city, make_app

TOKENS = TokenFactory()
schema = schemathesis.openapi.from_dict(
    create_app(Settings(database_url="sqlite+aiosqlite:///:memory:")).openapi()
).include(path_regex=r"^/v1/subscriptions")


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('schemathesis') / 'alert_mail.db'}"
    sink = MailSink(port=0)
    sink.start()
    try:
        app = make_app(url, TOKENS, sink)
        with TestClient(app, raise_server_exceptions=False) as client:
            client.portal.call(_seed, app)  # type: ignore[union-attr]
            yield client
    finally:
        sink.stop()


async def _seed(app: Any) -> None:
    async with app.state.runtime.db.session() as session:
        await seed(session, demo_city())


@schema.parametrize()
@hypothesis.settings(
    max_examples=25, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)
def test_no_generated_request_causes_a_server_error(case: Any, app_client: TestClient) -> None:
    response = send(app_client, case, TOKENS.citizen("cit_schemathesis"))
    assert response.status_code < 500, (case.method, case.path, response.text)
