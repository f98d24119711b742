from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.e_application.app import create_app
from services.e_application.seed import seed
from services.e_application.settings import Settings
from services.kit.app import RuntimeOptions
from tests.support.apps import running
from tests.support.tokens import TokenFactory

CITY = json.loads((Path(__file__).parents[3] / "deploy/seed/demo_city.json").read_text("utf-8"))


@pytest.fixture
async def client(db_url: str, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        Settings(database_url=db_url, environment="test"),
        RuntimeOptions(key_source=tokens.key_source(), background=False),
    )
    async with running(app) as client:
        async with app.state.db.session() as session:
            await seed(session, CITY)
        yield client


async def test_catalogue_lists_at_least_thirty_procedures_across_pages(
    client: httpx.AsyncClient,
) -> None:
    codes: list[str] = []
    cursor = None
    while True:
        params = {"limit": 10, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/v1/procedures", params=params)
        assert response.status_code == 200
        page = response.json()
        codes += [p["code"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(codes) == len(set(codes)) >= 30
    assert codes == sorted(codes)


async def test_filter_by_assurance(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/procedures", params={"assurance": "jpki", "limit": 100})
    items = response.json()["items"]
    assert items
    assert {p["assurance"] for p in items} == {"jpki"}
    assert "residence-certificate" in {p["code"] for p in items}


async def test_unknown_procedure_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/procedures/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "/problems/not-found"
    assert body["instance"] == response.headers["x-request-id"]


async def test_seed_is_idempotent(client: httpx.AsyncClient, db_url: str) -> None:
    first = (await client.get("/v1/procedures", params={"limit": 100})).json()["items"]
    transport = client._transport
    assert isinstance(transport, httpx.ASGITransport)
    app = transport.app
    async with app.state.db.session() as session:  # type: ignore[attr-defined]
        await seed(session, CITY)
    second = (await client.get("/v1/procedures", params={"limit": 100})).json()["items"]
    assert first == second
