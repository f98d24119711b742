"""Facilities: search, details, the availability grid (open to anyone); staff edit rules and
units, block slots, read usage statistics (稼働率) and the day's list."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from services.facility_booking import availability_service, blocks_service, staff_service
from services.facility_booking import facilities_service as service
from services.facility_booking.registrations_service import find_mine
from services.facility_booking.routes.deps import BlockId, FacilityCode, UnitCode
from services.facility_booking.schemas.facilities import (
    AvailabilityRead,
    BlockCreate,
    BlockList,
    BlockRead,
    DaySheet,
    FacilityList,
    FacilityRead,
    FacilityRulesPatch,
    UnitPatch,
    UnitRead,
    UsageRead,
)
from services.kit.auth import OptionalPrincipal, Public, Staff
from services.kit.deps import AuditedReadSession, ClockDep, SessionDep
from services.kit.idempotency import Idempotency
from services.kit.pagination import Cursor, Limit

router = APIRouter(prefix="/v1/facilities", tags=["facilities"])

Code32 = Annotated[str | None, Query(max_length=32, pattern=r"^[a-z0-9_-]+$")]


@router.get("", response_model=FacilityList)
async def list_facilities(
    session: SessionDep,
    _: Public,
    kind: Code32 = None,
    district: Code32 = None,
    min_capacity: Annotated[int | None, Query(ge=1, le=100_000)] = None,
    free_on: Annotated[date | None, Query(description="open, with a unit free that day")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> FacilityList:
    filters = service.Search(kind, district, min_capacity, free_on)
    rows, units, next_cursor = await service.search(session, filters, limit=limit, cursor=cursor)
    return FacilityList(
        items=[service.to_read(f, units[f.code]) for f in rows], next_cursor=next_cursor
    )


@router.get("/{code}", response_model=FacilityRead)
async def get_facility(code: FacilityCode, session: SessionDep, _: Public) -> FacilityRead:
    site = await service.load_site(session, code)
    return service.to_read(site.facility, list(site.units.values()))


@router.patch("/{code}", response_model=FacilityRead)
async def update_rules(
    code: FacilityCode,
    body: FacilityRulesPatch,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
) -> FacilityRead:
    """Staff of the facility's department change how it is booked (windows, closed days,
    refund tiers, limits...)."""
    site = await service.load_site(session, code)
    changes = service.rules_changes(body)
    await service.update_rules(session, site, changes, actor=principal, now=clock.now())
    return service.to_read(site.facility, list(site.units.values()))


@router.patch("/{code}/units/{unit_code}", response_model=UnitRead)
async def update_unit(
    code: FacilityCode,
    unit_code: UnitCode,
    body: UnitPatch,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
) -> UnitRead:
    site = await service.load_site(session, code)
    changes = service.unit_changes(site, body)
    await service.update_unit(session, site, unit_code, changes, actor=principal, now=clock.now())
    read = service.to_read(site.facility, list(site.units.values()))
    return next(u for u in read.units if u.code == unit_code)


@router.get("/{code}/availability", response_model=AvailabilityRead)
async def availability(
    code: FacilityCode,
    session: SessionDep,
    clock: ClockDep,
    principal: OptionalPrincipal,
    unit: Annotated[str, Query(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")],
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
) -> AvailabilityRead:
    """The slot grid of one unit (default: the next 14 days; at most 62 days), with the
    price the caller would pay: a registered user's residency and 減免, else the 市内 rate."""
    now = clock.now()
    first, last = availability_service.default_range(now, from_, to)
    site = await service.load_site(session, code)
    registration = await find_mine(session, principal.sub) if principal else None
    return await availability_service.grid(
        session, site, unit, first, last, registration=registration, now=now
    )


@router.post(
    "/{code}/blocks",
    response_model=BlockRead,
    status_code=201,
    responses={200: {"model": BlockRead, "description": "an Idempotency-Key replay"}},
)
async def create_block(
    code: FacilityCode,
    body: BlockCreate,
    principal: Staff,
    session: SessionDep,
    clock: ClockDep,
    idem: Idempotency,
) -> Response:
    """Blocks a unit (and everything it overlaps) for maintenance or a city event."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    site = await service.load_site(session, code)
    block = await blocks_service.create(session, site, body, actor=principal, now=clock.now())
    return await idem.complete(
        201, blocks_service.to_read(block), location=f"/v1/facilities/{site.code}/blocks/{block.id}"
    )


@router.get("/{code}/blocks", response_model=BlockList)
async def list_blocks(
    code: FacilityCode,
    principal: Staff,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> BlockList:
    site = await service.load_site(session, code)
    rows, next_cursor = await blocks_service.list_blocks(
        session, site, actor=principal, limit=limit, cursor=cursor
    )
    return BlockList(items=[blocks_service.to_read(b) for b in rows], next_cursor=next_cursor)


@router.get("/{code}/blocks/{block_id}", response_model=BlockRead)
async def read_block(
    code: FacilityCode, block_id: BlockId, principal: Staff, session: SessionDep
) -> BlockRead:
    """One block, as its create answered (with the reservations it cancelled); the staff of
    the facility's department only (404 for anyone else, as for an unknown block)."""
    site = await service.load_site(session, code)
    return blocks_service.to_read(
        await blocks_service.get_managed(session, site, block_id, actor=principal)
    )


@router.delete("/{code}/blocks/{block_id}", response_model=BlockRead)
async def lift_block(
    code: FacilityCode, block_id: BlockId, principal: Staff, session: SessionDep, clock: ClockDep
) -> BlockRead:
    site = await service.load_site(session, code)
    block = await blocks_service.lift(session, site, block_id, actor=principal, now=clock.now())
    return blocks_service.to_read(block)


@router.get("/{code}/usage", response_model=UsageRead)
async def usage(
    code: FacilityCode,
    principal: Staff,
    session: SessionDep,
    from_: Annotated[date, Query(alias="from")],
    to: Annotated[date, Query()],
) -> UsageRead:
    """稼働率 per unit and for the facility over a period (at most 366 days)."""
    site = await service.load_site(session, code)
    return await staff_service.usage(session, site, from_, to, actor=principal)


@router.get("/{code}/day-sheet", response_model=DaySheet)
async def day_sheet(
    code: FacilityCode,
    principal: Staff,
    session: AuditedReadSession,
    clock: ClockDep,
    day: Annotated[date, Query()],
) -> DaySheet:
    """The day's list: every reservation of the facility that day, with who booked it."""
    site = await service.load_site(session, code)
    return await staff_service.day_sheet(session, site, day, actor=principal, now=clock.now())
