"""Operational endpoints every service has: health, readiness, metrics, simulation controls."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from services.kit.auth import Principal, Public, authenticated, mark_auth
from services.kit.errors import Forbidden, NotFound, UnprocessableContent
from services.kit.exposure import MetricsReader
from services.kit.metrics import CONTENT_TYPE_LATEST
from services.kit.schemas import WriteModel
from services.kit.settings import ServiceSettings
from services.kit.shared_clock import store_offset


class Health(BaseModel):
    status: str
    service: str


class Readiness(BaseModel):
    status: str
    service: str
    checks: dict[str, str]


class ClockState(BaseModel):
    now: datetime
    offset_seconds: float


class ClockMove(WriteModel):
    advance_seconds: float | None = Field(None, ge=0, le=10 * 365 * 86400)
    travel_to: datetime | None = None


class TickResult(BaseModel):
    jobs: list[dict[str, Any]]
    outbox_delivered: int


@mark_auth(
    "simulation",
    roles=("admin",),
    scopes=("sim",),
    note="simulation mode only; an admin or a client with the sim scope",
)
async def simulation_operator(
    request: Request, principal: Annotated[Principal, Depends(authenticated)]
) -> Principal:
    """An admin, or a service client (the gateway) holding the `sim` scope."""
    settings: ServiceSettings = request.app.state.settings
    if not settings.simulation:
        raise NotFound("simulation endpoints are off outside simulation mode")
    if not (principal.has_role("admin") or principal.has_scope("sim")):
        raise Forbidden("simulation controls need the admin role or the sim scope")
    return principal


SimulationOperator = Annotated[Principal, Depends(simulation_operator)]


@mark_auth("simulation")
async def clock_mover(
    request: Request, principal: Annotated[Principal, Depends(authenticated)]
) -> Principal:
    """The gateway itself (its own service token, scope `sim`): the clock is shared by every
    client of the suite, so it moves only through the gateway's admin `/sim/clock`, which
    moves every service at once."""
    settings: ServiceSettings = request.app.state.settings
    if not settings.simulation:
        raise NotFound("simulation endpoints are off outside simulation mode")
    if not (
        principal.kind == "service"
        and principal.sub == settings.gateway_identity
        and principal.has_scope("sim")
    ):
        raise Forbidden("the clock moves only through the gateway's /sim/clock (admin)")
    return principal


ClockMover = Annotated[Principal, Depends(clock_mover)]


def _clock_state(request: Request) -> ClockState:
    clock = request.app.state.clock
    return ClockState(now=clock.now(), offset_seconds=clock.offset.total_seconds())


async def _follow(request: Request) -> None:
    follower = request.app.state.runtime.clock_follower
    if follower is not None:
        await follower.refresh()


def ops_router(settings: ServiceSettings) -> APIRouter:
    router = APIRouter(tags=["operations"])
    name = settings.service_name

    @router.get("/healthz", response_model=Health)
    async def healthz(_: Public) -> Health:
        return Health(status="ok", service=name)

    @router.get("/readyz", response_model=Readiness)
    async def readyz(request: Request, _: Public) -> Response:
        checks: dict[str, str] = {}
        try:
            await request.app.state.db.ping()
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"failing: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        body = Readiness(status="ok" if ok else "failing", service=name, checks=checks)
        return Response(
            body.model_dump_json(), status_code=200 if ok else 503, media_type="application/json"
        )

    @router.get("/metrics", response_class=Response, include_in_schema=False)
    async def metrics(request: Request, _: MetricsReader) -> Response:
        return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @router.get("/sim/clock", response_model=ClockState, tags=["simulation"])
    async def read_clock(request: Request, _: SimulationOperator) -> ClockState:
        await _follow(request)
        return _clock_state(request)

    @router.post("/sim/clock", response_model=ClockState, tags=["simulation"])
    async def move_clock(request: Request, move: ClockMove, _: ClockMover) -> ClockState:
        clock = request.app.state.clock
        await _follow(request)  # move from the time every process keeps, not a stale one
        if (move.advance_seconds is None) == (move.travel_to is None):
            raise UnprocessableContent(
                "give exactly one of advance_seconds or travel_to", field="advance_seconds"
            )
        try:
            if move.travel_to is not None:
                clock.travel_to(move.travel_to)
            else:
                clock.advance(timedelta(seconds=move.advance_seconds or 0))
        except ValueError as exc:
            raise UnprocessableContent(str(exc), field="travel_to") from exc
        await store_offset(request.app.state.db, clock.offset, clock.now())
        return _clock_state(request)

    @router.post("/sim/tick", response_model=TickResult, tags=["simulation"])
    async def tick(request: Request, _: SimulationOperator, force: bool = False) -> TickResult:
        runtime = request.app.state.runtime
        await _follow(request)  # another replica may have answered the last /sim/clock
        runs = await runtime.scheduler.run_due(force=force)
        delivered = await runtime.relay.run_once()
        return TickResult(
            jobs=[{"name": r.name, "ok": r.ok, "error": r.error} for r in runs],
            outbox_delivered=delivered,
        )

    return router
