"""Every service's app factory, for tests that walk all of them (from the launcher's table of
services, so a new service is listed in one place)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI

from deploy.stack import SERVICES as KINDS
from deploy.stack import ServiceKind
from services.kit.app import RuntimeOptions

Factory = Callable[[str, RuntimeOptions], FastAPI]


def _factory(kind: ServiceKind) -> Factory:
    def build(database_url: str, options: RuntimeOptions) -> FastAPI:
        settings = kind.settings(database_url=database_url, environment="test")
        return kind.create_app()(settings, options)

    return build


SERVICES: dict[str, Factory] = {name: _factory(kind) for name, kind in KINDS.items()}
