"""`/openapi.json` merges the services' documents with the gateway's own; `/docs` and
`/redoc` (kit.docs, no CDN) show it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from gateway.deps import RuntimeDep
from gateway.internal_calls import call_service
from gateway.openapi_merge import merge_documents
from gateway.runtime import GatewayRuntime
from services.kit.auth import Public
from services.kit.errors import BadGateway

router = APIRouter(include_in_schema=False)


async def _fetch(runtime: GatewayRuntime, service: str) -> dict[str, Any]:
    outcome = await call_service(
        runtime,
        service,
        "GET",
        "/openapi.json",
        time_limit=runtime.settings.openapi_timeout_seconds,
    )
    if outcome.error is not None:
        raise outcome.error
    document = outcome.body()
    if not outcome.ok or not isinstance(document, dict):
        raise BadGateway(f"{service} has no usable OpenAPI document")
    return document


@router.get("/openapi.json")
async def merged_openapi(request: Request, runtime: RuntimeDep, _: Public) -> JSONResponse:
    services = runtime.routes.services

    async def fetch(service: str) -> dict[str, Any]:
        return await _fetch(runtime, service)

    documents = await runtime.openapi.documents(services, fetch)
    return JSONResponse(merge_documents(request.app.openapi(), documents, runtime.routes))
