"""`/sim/*` (simulation mode): move every service's clock at once, run due jobs now (admin);
pay a voucher at a simulated store register (any signed-in user).

The gateway calls each service's own `/sim/*` with a service token it mints for itself
(scope `sim`). The answer lists what each service said; if any failed, it is a 502 problem
that still carries every service's answer.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel
from starlette.responses import Response

from gateway.deps import RuntimeDep
from gateway.internal_calls import CallOutcome, call_every_service, call_service
from gateway.runtime import GatewayRuntime
from services.kit.auth import Admin, AnyPrincipal, Principal, mark_auth
from services.kit.errors import BadGateway, NotFound, UnprocessableContent
from services.kit.ops import ClockMove
from services.kit.shared_clock import store_offset

router = APIRouter(prefix="/sim", tags=["simulation"])


@mark_auth("simulation", roles=("admin",), note="simulation mode only")
async def simulation_admin(runtime: RuntimeDep, principal: Admin) -> Principal:
    if not runtime.settings.simulation:
        raise NotFound("simulation endpoints are off outside simulation mode")
    return principal


SimulationAdmin = Annotated[Principal, Depends(simulation_admin)]


class GatewayClock(BaseModel):
    now: datetime
    offset_seconds: float


class ClockReport(BaseModel):
    gateway: GatewayClock
    services: dict[str, dict[str, Any]]


class TickReport(BaseModel):
    services: dict[str, dict[str, Any]]


def _answer(outcomes: list[CallOutcome]) -> dict[str, dict[str, Any]]:
    services = {o.service: o.report() for o in outcomes}
    if not all(o.ok for o in outcomes):
        failed = sorted(o.service for o in outcomes if not o.ok)
        raise BadGateway(f"not every service applied it: {', '.join(failed)}", services=services)
    return services


def _move_own_clock(runtime: GatewayRuntime, move: ClockMove) -> None:
    if (move.advance_seconds is None) == (move.travel_to is None):
        raise UnprocessableContent(
            "give exactly one of advance_seconds or travel_to", field="advance_seconds"
        )
    try:
        if move.travel_to is not None:
            runtime.clock.travel_to(move.travel_to)
        else:
            runtime.clock.advance(timedelta(seconds=move.advance_seconds or 0))
    except ValueError as exc:
        raise UnprocessableContent(str(exc), field="travel_to") from exc


def _report(runtime: GatewayRuntime, services: dict[str, dict[str, Any]]) -> ClockReport:
    clock = GatewayClock(
        now=runtime.clock.now(), offset_seconds=runtime.clock.offset.total_seconds()
    )
    return ClockReport(gateway=clock, services=services)


@router.get("/clock", response_model=ClockReport, summary="Every service's simulated time")
async def read_clocks(runtime: RuntimeDep, _: SimulationAdmin) -> ClockReport:
    outcomes = await call_every_service(
        runtime,
        "GET",
        "/sim/clock",
        time_limit=runtime.settings.sim_timeout_seconds,
        token=runtime.service_token(),
    )
    return _report(runtime, _answer(outcomes))


@router.post("/clock", response_model=ClockReport, summary="Move every service's clock")
async def move_clocks(move: ClockMove, runtime: RuntimeDep, _: SimulationAdmin) -> ClockReport:
    _move_own_clock(runtime, move)
    if runtime.db is not None:  # the other gateway replicas follow it (kit.shared_clock)
        await store_offset(runtime.db, runtime.clock.offset, runtime.clock.now())
    outcomes = await call_every_service(
        runtime,
        "POST",
        "/sim/clock",
        time_limit=runtime.settings.sim_timeout_seconds,
        token=runtime.service_token(),
        payload=move.model_dump(mode="json", exclude_none=True),
    )
    return _report(runtime, _answer(outcomes))


@router.post("/tick", response_model=TickReport, summary="Run every service's due jobs now")
async def tick(
    runtime: RuntimeDep,
    _: SimulationAdmin,
    force: Annotated[bool, Query(description="run every job, due or not")] = False,
) -> TickReport:
    # One service after the other, in settings order: a message one service's outbox
    # delivers during its tick is then processed by a later service in the same tick.
    token = runtime.service_token()
    path = f"/sim/tick?force={'true' if force else 'false'}"
    outcomes = [
        await call_service(
            runtime,
            name,
            "POST",
            path,
            time_limit=runtime.settings.sim_timeout_seconds,
            token=token,
        )
        for name in runtime.upstreams
    ]
    return TickReport(services=_answer(outcomes))


@mark_auth("simulation", note="simulation mode only; any signed-in user holding the slip")
async def store_customer(runtime: RuntimeDep, principal: AnyPrincipal) -> Principal:
    if not runtime.settings.simulation:
        raise NotFound("simulation endpoints are off outside simulation mode")
    return principal


StoreCustomer = Annotated[Principal, Depends(store_customer)]
REGISTERS = {"konbini": "/v1/simulate/konbini/payments", "payeasy": "/v1/simulate/payeasy/payments"}


@router.post(
    "/registers/{register}",
    summary="Pay a voucher at a simulated store register or ATM",
    responses={200: {"description": "the payer's receipt, as payments_mock answers it"}},
)
async def pay_at_register(
    register: Literal["konbini", "payeasy"],
    slip: Annotated[dict[str, Any], Body(description="what payments_mock's register takes")],
    runtime: RuntimeDep,
    _: StoreCustomer,
) -> Response:
    """At a real store whoever holds the slip pays it: the store is neither the biller nor
    the payer. So a signed-in user (the demo portal's "pay at the store" button) pays through
    the gateway, which plays the store with its own `sim` token; payments_mock's answer
    (receipt or problem) is passed on as it is."""
    outcome = await call_service(
        runtime,
        "payments_mock",
        "POST",
        REGISTERS[register],
        time_limit=runtime.settings.sim_timeout_seconds,
        token=runtime.service_token(),
        payload=slip,
    )
    if outcome.response is None:
        raise outcome.error or BadGateway("payments_mock did not answer")
    return Response(
        outcome.response.body,
        status_code=outcome.response.status,
        media_type=outcome.response.content_type or "application/json",
    )
