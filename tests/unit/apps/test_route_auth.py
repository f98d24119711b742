"""Every route of every app must declare who may call it: an auth dependency or `Public`."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from deploy.mailsink import MailSink, create_mailbox_app
from gateway.app import create_app as gateway_app
from gateway.portal.routes import ASSETS_PATH as PORTAL_ASSETS
from gateway.settings import GatewaySettings
from services.kit.app import RuntimeOptions
from services.kit.auth import is_auth_dependency
from tests.support.services import SERVICES

# Framework pages that serve the API description itself, and the demo portal's static files
# (public like any web page's scripts; the portal calls the API with the user's own tokens).
FRAMEWORK_ROUTES = {
    "/openapi.json",
    "/docs",
    "/docs/oauth2-redirect",
    "/redoc",
    "/docs/assets",
    PORTAL_ASSETS,
}


def _declares_auth(dependant: Dependant) -> bool:
    if dependant.call is not None and is_auth_dependency(dependant.call):
        return True
    return any(_declares_auth(sub) for sub in dependant.dependencies)


def api_routes(app: FastAPI) -> list[RouteContext]:
    """Every route with its effective path, through included routers."""
    return list(iter_route_contexts(app.routes))


def undeclared_routes(app: FastAPI) -> list[str]:
    missing = []
    for context in api_routes(app):
        route = context.original_route
        if isinstance(route, APIRoute):
            if not _declares_auth(context.dependant):
                missing.append(f"{sorted(context.methods or ())} {context.path}")
        elif context.path not in FRAMEWORK_ROUTES:
            missing.append(f"non-API route {context.path}")
    return missing


def all_apps() -> dict[str, Any]:
    options = RuntimeOptions(background=False)
    apps: dict[str, Any] = {
        name: build("sqlite+aiosqlite:///:memory:", options) for name, build in SERVICES.items()
    }
    apps["gateway"] = gateway_app(GatewaySettings(database_url="sqlite+aiosqlite:///:memory:"))
    apps["mailbox"] = create_mailbox_app(MailSink(port=0))
    return apps


@pytest.mark.parametrize("name", [*sorted(SERVICES), "gateway", "mailbox"])
def test_every_route_declares_auth_or_public(name: str) -> None:
    apps = all_apps()
    assert name in apps, f"{name} app cannot be built"
    app = apps[name]
    routes = [c for c in api_routes(app) if isinstance(c.original_route, APIRoute)]
    assert len(routes) >= 3, f"{name} has too few routes to check: {routes}"
    assert undeclared_routes(app) == []


def test_walker_catches_an_undeclared_route() -> None:
    app = FastAPI()

    @app.get("/open")
    async def open_route() -> dict[str, str]:
        return {}

    assert undeclared_routes(app) == ["['GET'] /open"]
