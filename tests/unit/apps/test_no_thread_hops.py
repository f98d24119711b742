"""No route of any app runs a dependency or an endpoint in FastAPI's thread pool.

FastAPI runs a plain `def` dependency or endpoint in a worker thread, on every request: a
hop measured at ~0.5 ms on the CI machine, for functions that only read `request.app.state`.
Everything here is non-blocking, so everything is `async def`.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tests.support.services import SERVICES
from tests.unit.apps.test_route_auth import all_apps, api_routes


def runs_on_the_loop(call: Any) -> bool:
    call = inspect.unwrap(call)
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    if inspect.isclass(call):
        return False  # instantiating a class is a sync call
    dunder = getattr(call, "__call__", None)  # noqa: B004 (instances with an async __call__)
    return inspect.iscoroutinefunction(dunder) or inspect.isasyncgenfunction(dunder)


def _threaded(dependant: Dependant, found: set[str]) -> None:
    call = dependant.call
    if call is not None and not runs_on_the_loop(call):
        found.add(f"{getattr(call, '__module__', '?')}.{getattr(call, '__qualname__', call)}")
    for sub in dependant.dependencies:
        _threaded(sub, found)


def thread_pool_calls(app: FastAPI) -> list[str]:
    found: set[str] = set()
    for context in api_routes(app):
        if isinstance(context.original_route, APIRoute):
            _threaded(context.dependant, found)
    return sorted(found)


@pytest.fixture(scope="module")
def apps() -> dict[str, Any]:
    return all_apps()


@pytest.mark.parametrize("name", [*sorted(SERVICES), "gateway", "mailbox"])
def test_no_route_runs_code_in_the_thread_pool(name: str, apps: dict[str, Any]) -> None:
    assert thread_pool_calls(apps[name]) == []


def test_the_walker_finds_a_plain_def_dependency() -> None:
    from fastapi import Depends

    app = FastAPI()

    def settings() -> int:
        return 1

    @app.get("/x")
    async def endpoint(value: int = Depends(settings)) -> int:
        return value

    assert thread_pool_calls(app) == [
        f"{__name__}.test_the_walker_finds_a_plain_def_dependency.<locals>.settings"
    ]
