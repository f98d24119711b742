"""What a deployment shows about itself: the API documents and the metrics.

Outside production both are open (developers build against them). In production the API
documents (`/docs`, `/redoc`, `/openapi.json`) are off unless `api_docs` turns them on, and
`/metrics` answers only a scraper presenting `metrics_token` as a bearer token (without a
configured token it is off). A token set outside production is required there too.
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from pydantic import SecretStr

from services.kit.auth import bearer_token, mark_auth
from services.kit.errors import NotFound, Unauthorized


class ExposureSettings(Protocol):
    @property
    def environment(self) -> str: ...
    @property
    def api_docs(self) -> bool | None: ...
    @property
    def metrics_token(self) -> SecretStr: ...


def docs_enabled(settings: ExposureSettings) -> bool:
    if settings.api_docs is not None:
        return settings.api_docs
    return settings.environment != "production"


def docs_urls(settings: ExposureSettings) -> dict[str, Any]:
    """FastAPI's keyword arguments for its own documents: all on, or all off."""
    on = docs_enabled(settings)
    return {
        "openapi_url": "/openapi.json" if on else None,
        "docs_url": "/docs" if on else None,
        "redoc_url": "/redoc" if on else None,
    }


@mark_auth("metrics")
async def metrics_reader(request: Request) -> None:
    settings: ExposureSettings = request.app.state.settings
    expected = settings.metrics_token.get_secret_value()
    if not expected:
        if settings.environment == "production":
            raise NotFound("metrics are off in production until a metrics_token is set")
        return
    presented = bearer_token(request) or ""
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise Unauthorized("/metrics needs the metrics token as a bearer token")


MetricsReader = Annotated[None, Depends(metrics_reader)]
