"""`Allow` covers every route of a path, a literal path is never taken by a parameter route,
and an unknown path is a 404 problem naming it; on a kit app, each service and the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi import Path as PathParam

from gateway.app import create_app as gateway_app
from gateway.settings import GatewaySettings
from services.kit.app import RuntimeOptions, ServiceSpec, create_service_app
from services.kit.auth import Citizen, Public
from services.kit.method_guard import literal_paths
from services.kit.settings import ServiceSettings
from tests.support.apps import running
from tests.support.services import SERVICES
from tests.support.tokens import TokenFactory
from tests.unit.apps.test_problems import assert_problem
from tests.unit.kit.kitdb import EMPTY_MIGRATIONS

ThingId = PathParam(pattern=r"^thg_[0-9]{4}$")


@pytest.fixture
async def client(db_url: str, tokens: TokenFactory) -> AsyncIterator[httpx.AsyncClient]:
    router = APIRouter()

    @router.get("/things")
    async def list_things(_: Public) -> list[str]:
        return []

    @router.post("/things")
    async def create_thing(_: Public) -> str:
        return "thg_0001"

    @router.get("/things/public")
    async def public_things(_: Public) -> list[str]:
        return []

    @router.get("/things/{thing_id}")
    async def read_thing(_: Public, thing_id: str = ThingId) -> str:
        return thing_id

    @router.patch("/things/{thing_id}")
    async def change_thing(_: Citizen, thing_id: str = ThingId) -> str:  # needs a token
        return thing_id

    @router.delete("/things/{thing_id}")
    async def delete_thing(_: Public, thing_id: str = ThingId) -> None:
        return None

    app = create_service_app(
        ServiceSpec(
            name="things",
            title="t",
            description="t",
            settings=ServiceSettings(
                service_name="things", database_url=db_url, environment="test"
            ),
            routers=[router],
            migrations=EMPTY_MIGRATIONS,
            options=RuntimeOptions(key_source=tokens.key_source(), background=False),
        )
    )
    async with running(app) as client:
        yield client


async def test_allow_lists_every_route_of_the_path(client: httpx.AsyncClient) -> None:
    for method in ("OPTIONS", "DELETE", "PUT"):
        response = await client.request(method, "/things")
        body = assert_problem(response, 405, "method-not-allowed")
        assert response.headers["allow"] == "GET, POST"
        assert body["allowed_methods"] == ["GET", "POST"]
    response = await client.request("POST", "/things/thg_0001")
    assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == "DELETE, GET, PATCH"


async def test_a_literal_path_is_not_a_parameter_value(
    client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    citizen = tokens.citizen()
    for method, headers in (("PATCH", citizen), ("PATCH", {}), ("DELETE", {})):
        response = await client.request(method, "/things/public", headers=headers)
        assert_problem(response, 405, "method-not-allowed")  # before auth and parameters
        assert response.headers["allow"] == "GET"
    assert (await client.get("/things/public")).json() == []
    assert (await client.patch("/things/thg_0001", headers=citizen)).json() == "thg_0001"
    invalid = await client.patch("/things/other", headers=citizen)
    assert_problem(invalid, 422, "validation-error")


async def test_an_unknown_path_is_a_404_naming_it(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/no/such/place"), 404, "not-found")
    assert body["path"] == "/no/such/place"
    assert "/no/such/place" in str(body["detail"])


def _apps(tmp_path: Path, tokens: TokenFactory) -> dict[str, FastAPI]:
    apps = {
        name: factory(
            f"sqlite+aiosqlite:///{tmp_path}/{name}.db",
            RuntimeOptions(key_source=tokens.key_source(), background=False),
        )
        for name, factory in SERVICES.items()
    }
    apps["gateway"] = gateway_app(
        GatewaySettings(var_dir=tmp_path, log_access=False, upstreams={}, routes={})
    )
    return apps


@pytest.mark.parametrize("name", [*sorted(SERVICES), "gateway"])
async def test_every_literal_path_answers_other_methods_with_a_right_allow(
    name: str, tmp_path: Path, tokens: TokenFactory
) -> None:
    app = _apps(tmp_path, tokens)[name]
    literal = literal_paths(app)
    assert len(literal) >= 3
    async with running(app) as client:
        for path, methods in literal.items():
            other = next(m for m in ("PATCH", "DELETE", "PUT", "POST") if m not in methods)
            response = await client.request(other, path)
            assert response.status_code == 405, (path, other, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["allow"] == ", ".join(sorted(methods)), path
