"""/docs and /redoc work offline (assets from the installed package, no CDN), Swagger's
Authorize targets the gateway's token endpoint, and every operation says who may call it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.kit.app import RuntimeOptions
from tests.support.apps import running
from tests.support.services import SERVICES
from tests.support.suite import InProcessSuite
from tests.unit.apps.test_generated_client import suite  # noqa: F401 - the fixture


async def test_docs_pages_load_every_asset_from_the_gateway(suite: InProcessSuite) -> None:  # noqa: F811
    async with suite.http() as http:
        for page in ("/docs", "/redoc"):
            html = (await http.get(page)).text
            assets = re.findall(r'(?:src|href)="([^"]+)"', html)
            assert assets, page
            for asset in assets:
                assert asset.startswith("/"), f"{page} loads {asset} from elsewhere"
                answer = await http.get(asset)
                assert answer.status_code == 200, asset
                assert len(answer.content) > 0
        redirect = await http.get("/docs/oauth2-redirect")
        assert redirect.status_code == 200
        document = (await http.get("/openapi.json")).json()
    operations = [
        op
        for item in document["paths"].values()
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]
    assert len(operations) > 100
    assert all("security" in op and "x-cityhall-access" in op for op in operations)
    create = document["paths"]["/v1/payments"]["post"]
    assert {"OAuth2": ["payments:write"]} in create["security"]
    assert "**Access:**" in create["description"]
    alerts = document["paths"]["/v1/alerts"]["post"]["x-cityhall-access"]
    assert alerts["kinds"] == ["staff"]
    assert "alert_publisher" in alerts["roles_any"]
    assert document["paths"]["/auth/token"]["post"]["security"] == []
    token_examples = document["paths"]["/auth/token"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"
    ]["examples"]
    assert {"citizen", "staff", "client", "refresh"} <= token_examples.keys()
    schemas = document["components"]["schemas"]
    assert schemas["PaymentsMock_PaymentCreate"]["examples"][0]["method"] == "konbini"
    signup = document["paths"]["/v1/subscriptions"]["post"]["requestBody"]["content"]
    assert signup["application/json"]["schema"]["examples"][0]["categories"]


@pytest.mark.parametrize("name", sorted(SERVICES))
async def test_each_service_points_authorize_at_the_gateway(name: str, tmp_path: Path) -> None:
    app = SERVICES[name](
        f"sqlite+aiosqlite:///{tmp_path}/{name}.db", RuntimeOptions(background=False)
    )
    async with running(app) as client:
        document = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    flows = document["components"]["securitySchemes"]["OAuth2"]["flows"]
    assert flows["password"]["tokenUrl"] == "http://127.0.0.1:8000/auth/token"
    assert flows["clientCredentials"]["refreshUrl"] == "http://127.0.0.1:8000/auth/token"
    assert document["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    assert "cdn" not in docs.text.lower()


async def test_creates_document_their_location_and_the_idempotent_replay(
    suite: InProcessSuite,  # noqa: F811
) -> None:
    async with suite.http() as http:
        paths = (await http.get("/openapi.json")).json()["paths"]
    located = {
        path
        for path, item in paths.items()
        if "Location" in item.get("post", {}).get("responses", {}).get("201", {}).get("headers", {})
    }
    assert {
        "/v1/payments",
        "/v1/webhook-endpoints",
        "/v1/applications",
        "/v1/applications/counter",
        "/v1/applications/{application_id}/attachments",
        "/v1/procedures/{code}/versions",
        "/v1/reservations",
        "/v1/lotteries",
        "/v1/alerts",
        "/v1/notifications/templates",
        "/v1/payments/{payment_id}/refunds",
        "/v1/reservations/waitlist",
        "/v1/lotteries/{round_id}/entries",
        "/v1/facilities/{code}/blocks",
        "/v1/callups/groups/{group_id}/members",
    } <= located
    # An application's fee payment has no GET of its own, so no Location is promised.
    assert "/v1/applications/{application_id}/payments" not in located
    create = paths["/v1/payments"]["post"]
    replay = create["responses"]["200"]
    assert "Idempotent-Replayed" in replay["headers"]
    assert "Location" in replay["headers"]
    assert replay["content"] == create["responses"]["201"]["content"]
    assert any(p["name"] == "Idempotency-Key" for p in create["parameters"])
    # Without Idempotency support there is no replay to document.
    assert "200" not in paths["/v1/webhook-endpoints"]["post"]["responses"]
    me = paths["/auth/me"]["get"]["responses"]["200"]["content"]["application/json"]
    assert me["schema"]["$ref"].endswith("Identity")
