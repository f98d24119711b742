"""The route table: longest path prefix wins, matched on a path-segment boundary.

`/v1/payments` matches `/v1/payments` and `/v1/payments/pay_1`, never `/v1/payments-x`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from starlette.types import Scope

# Where the first layer that matched a request's route leaves it, for the layers after it.
ROUTE_MATCH = "gateway.route_match"


@dataclass(frozen=True, slots=True)
class RouteMatch:
    prefix: str
    service: str


class RouteTable:
    def __init__(self, routes: Mapping[str, str]) -> None:
        # Longest first, so the first hit is the most specific one.
        self._routes = sorted(routes.items(), key=lambda item: len(item[0]), reverse=True)

    def match(self, path: str) -> RouteMatch | None:
        for prefix, service in self._routes:
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                return RouteMatch(prefix, service)
        return None

    def prefixes_of(self, service: str) -> list[str]:
        return sorted(prefix for prefix, name in self._routes if name == service)

    @property
    def services(self) -> list[str]:
        return sorted({service for _, service in self._routes})

    def match_scope(self, scope: Scope) -> RouteMatch | None:
        """`match(scope["path"])`, worked out by the first layer that asks and kept in the
        scope's state (None included) for the layers after it."""
        state = scope.setdefault("state", {})
        if ROUTE_MATCH in state:
            match: RouteMatch | None = state[ROUTE_MATCH]
            return match
        match = state[ROUTE_MATCH] = self.match(scope["path"])
        return match
