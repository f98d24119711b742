"""schemathesis against facility_booking's own OpenAPI: no generated request causes a 5xx,
as a registered citizen and as an admin (who passes every staff check)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from starlette.testclient import TestClient

from services.facility_booking.app import create_app
from services.facility_booking.seed import seed
from services.facility_booking.settings import Settings
from services.kit.app import RuntimeOptions
from tests.support.schemathesis_support import send
from tests.support.tokens import TokenFactory
from tests.unit.facility_booking.support import CITY

TOKENS = TokenFactory()


def _app(url: str) -> Any:
    return create_app(
        Settings(database_url=url, environment="test", log_access=False),
        RuntimeOptions(key_source=TOKENS.key_source(), background=False),
    )


# The kit's webhook intake answers 503 until the endpoint is registered, on purpose (so that
# payments_mock retries); it is tested with real signed webhooks in tests/unit/kit_payments.
schema = schemathesis.openapi.from_dict(_app("sqlite+aiosqlite:///:memory:").openapi()).exclude(
    path="/webhooks/payments"
)
CITIZEN = TOKENS.citizen("cit_fuzz", acr="jpki")
ADMIN = TOKENS.admin()


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('schemathesis') / 'booking.db'}"
    app = _app(url)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.portal.call(_seed, app)  # type: ignore[union-attr]
        client.post(
            "/v1/facility-users",
            headers=CITIZEN,
            json={
                "applicant_type": "individual",
                "name": "fuzz",
                "residency": "resident",
                "residency_basis": "living",
                "email": "fuzz@example.jp",
            },
        )
        yield client


async def _seed(app: Any) -> None:
    async with app.state.db.session() as session:
        await seed(session, CITY)


@schema.parametrize()
@hypothesis.settings(
    max_examples=20, deadline=None, suppress_health_check=list(hypothesis.HealthCheck)
)
@pytest.mark.parametrize("who", ["citizen", "admin"])
def test_no_generated_request_causes_a_server_error(
    case: Any, who: str, app_client: TestClient
) -> None:
    response = send(app_client, case, CITIZEN if who == "citizen" else ADMIN)
    assert response.status_code < 500, (case.method, case.path, response.text)
