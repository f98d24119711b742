"""Pure-ASGI guard: a literal path is never taken by a parameter route.

Starlette tries routes in order and a parameter route (`PATCH /v1/alerts/{alert_id}`) fully
matches a literal path of another resource (`/v1/alerts/public`, GET only), so the request
would reach the wrong endpoint and fail on the parameter (422) or on auth (401). A path that
is some route's literal path names that resource: any other method is a 405 whose `Allow`
lists the literal routes' methods, answered before routing, authentication or parsing.
"""

from __future__ import annotations

import json

from fastapi.routing import iter_route_contexts
from starlette.types import ASGIApp, Receive, Scope, Send

from services.kit.problems import PROBLEM_JSON, problem_body


def literal_paths(app: object) -> dict[str, frozenset[str]]:
    """Path → methods of the app's routes without path parameters."""
    methods: dict[str, set[str]] = {}
    for route in iter_route_contexts(getattr(app, "routes", [])):
        convertors = getattr(route, "param_convertors", None)
        if route.path is None or convertors is None or convertors or not route.methods:
            continue
        methods.setdefault(route.path, set()).update(route.methods)
    return {path: frozenset(found) for path, found in methods.items()}


class LiteralPathGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._literal: dict[str, frozenset[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._literal is None:  # routes are complete once the first request arrives
            self._literal = literal_paths(scope.get("app"))
        allowed = self._literal.get(scope["path"])
        if allowed is None or scope["method"] in allowed:
            await self.app(scope, receive, send)
            return
        methods = sorted(allowed)
        detail = f"{scope['method']} is not allowed on {scope['path']}; use {', '.join(methods)}"
        body = json.dumps(
            problem_body(405, detail=detail, extensions={"allowed_methods": methods})
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 405,
                "headers": [
                    (b"content-type", PROBLEM_JSON.encode()),
                    (b"content-length", str(len(body)).encode()),
                    (b"allow", ", ".join(methods).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
