"""/openapi.json: the gateway's own document plus each service's routed paths, with
per-service component names; a service that is down is named, not fatal."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel
from starlette.types import Receive, Scope, Send

from gateway.openapi_merge import merge_documents
from gateway.routing import RouteTable

from .support import GatewayFactory


class AlphaItem(BaseModel):
    name: str


class BetaItem(BaseModel):
    price: int


def alpha_app() -> FastAPI:
    app = FastAPI(title="alpha")

    @app.get("/v1/alpha/items", response_model=list[AlphaItem])
    async def list_items(limit: int = 10) -> list[AlphaItem]:
        return []

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {}

    return app


def beta_app() -> FastAPI:
    app = FastAPI(title="beta")

    @app.post("/v1/beta/items/{item_id}", response_model=BetaItem)
    async def put_item(item_id: str, item: BetaItem) -> BetaItem:
        return item

    return app


class Counting:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.openapi_fetches = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/openapi.json":
            self.openapi_fetches += 1
        await self.app(scope, receive, send)


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for item in node for r in refs(item)]
    return []


async def test_merged_document(make_gateway: GatewayFactory, closed_port_url: str) -> None:
    alpha = Counting(alpha_app())
    async with make_gateway(
        upstream_apps={"alpha": alpha, "beta_service": beta_app()},
        upstreams={
            "alpha": "http://unused",
            "beta_service": "http://unused",
            "gamma": closed_port_url,
        },
        routes={"/v1/alpha": "alpha", "/v1/beta": "beta_service", "/v1/gamma": "gamma"},
    ) as gw:
        response = await gw.client.get("/openapi.json")
        again = await gw.client.get("/openapi.json")
        docs = await gw.client.get("/docs")
    assert response.status_code == 200
    document = response.json()
    assert again.json() == document
    assert alpha.openapi_fetches == 1  # cached
    assert document["x-unavailable-services"] == ["gamma"]

    paths = document["paths"]
    assert "/v1/alpha/items" in paths
    assert "/v1/beta/items/{item_id}" in paths
    assert "/auth/token" in paths  # the gateway's own
    assert "/healthz" in paths  # the gateway's own, not alpha's
    assert paths["/v1/alpha/items"]["get"]["x-service"] == "alpha"

    schemas = document["components"]["schemas"]
    assert "Alpha_AlphaItem" in schemas
    assert "BetaService_BetaItem" in schemas
    # Both services have FastAPI's HTTPValidationError: each keeps its own.
    assert "Alpha_HTTPValidationError" in schemas
    assert "BetaService_HTTPValidationError" in schemas
    assert set(schemas["Alpha_AlphaItem"]["properties"]) == {"name"}
    assert set(schemas["BetaService_BetaItem"]["properties"]) == {"price"}
    for ref in refs(document):
        kind, name = ref.removeprefix("#/components/").split("/")
        assert name in document["components"][kind], ref
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
    assert "/openapi.json" in docs.text


def test_paths_outside_the_routed_prefixes_are_left_out() -> None:
    own = {"openapi": "3.1.0", "info": {"title": "gw", "version": "1"}, "paths": {}}
    service = {
        "paths": {
            "/v1/things": {"get": {"operationId": "list"}},
            "/v1/thingsmore": {"get": {"operationId": "other"}},
            "/internal/x": {"get": {"operationId": "internal"}},
        },
        "components": {"schemas": {"A": {"$ref": "#/components/schemas/B"}, "B": {}}},
    }
    merged = merge_documents(own, {"svc": service}, RouteTable({"/v1/things": "svc"}))
    assert list(merged["paths"]) == ["/v1/things"]
    assert merged["components"]["schemas"]["Svc_A"] == {"$ref": "#/components/schemas/Svc_B"}
    assert merged["x-unavailable-services"] == []
