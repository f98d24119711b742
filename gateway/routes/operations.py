"""The gateway's health, readiness (own database and every upstream) and metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import JSONResponse, Response

from gateway.deps import RuntimeDep
from gateway.internal_calls import call_every_service
from services.kit.auth import Public
from services.kit.exposure import MetricsReader
from services.kit.metrics import CONTENT_TYPE_LATEST
from services.kit.ops import Health
from services.kit.ops import Readiness as KitReadiness

router = APIRouter(tags=["operations"])


class Readiness(KitReadiness):
    """The kit's readiness, plus what each upstream service answered."""

    upstreams: dict[str, dict[str, Any]]


@router.get("/healthz", response_model=Health)
async def healthz(_: Public) -> Health:
    return Health(status="ok", service="gateway")


@router.get("/readyz", response_model=Readiness)
async def readyz(runtime: RuntimeDep, _: Public) -> Response:
    checks: dict[str, str] = {}
    try:
        if runtime.db is None:
            raise RuntimeError("not started")
        await runtime.db.ping()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"failing: {type(exc).__name__}"
    outcomes = await call_every_service(
        runtime, "GET", "/readyz", time_limit=runtime.settings.readiness_timeout_seconds
    )
    upstreams = {o.service: {k: v for k, v in o.report().items() if k != "body"} for o in outcomes}
    ok = all(v == "ok" for v in checks.values()) and all(o.ok for o in outcomes)
    body = Readiness(
        status="ok" if ok else "failing", service="gateway", checks=checks, upstreams=upstreams
    )
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(runtime: RuntimeDep, _: MetricsReader) -> Response:
    return Response(runtime.metrics.render(), media_type=CONTENT_TYPE_LATEST)
