"""Facilities and their rooms, open to anyone (24-hour availability check starts here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from services.facility_booking.models import Facility, Room
from services.facility_booking.schemas import FacilityRead, RoomRead
from services.kit.auth import Public
from services.kit.deps import SessionDep
from services.kit.errors import NotFound
from services.kit.pagination import Cursor, Limit, Page, keyset_page

router = APIRouter(prefix="/v1/facilities", tags=["facilities"])


def _read(facility: Facility, rooms: Sequence[Room]) -> FacilityRead:
    return FacilityRead(
        **facility.model_dump(),
        rooms=[RoomRead.model_validate(r, from_attributes=True) for r in rooms],
    )


async def _rooms_by_facility(session: SessionDep, codes: list[str]) -> dict[str, list[Room]]:
    query = select(Room).where(col(Room.facility_code).in_(codes)).order_by(col(Room.code))
    rooms: dict[str, list[Room]] = {code: [] for code in codes}
    for room in (await session.exec(query)).all():
        rooms[room.facility_code].append(room)
    return rooms


@router.get("", response_model=Page[FacilityRead])
async def list_facilities(
    session: SessionDep,
    _: Public,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    district: Annotated[str | None, Query(max_length=32)] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[FacilityRead]:
    query = select(Facility)
    if kind is not None:
        query = query.where(Facility.kind == kind)
    if district is not None:
        query = query.where(Facility.district == district)
    rows, next_cursor = await keyset_page(
        session, query, col(Facility.code), limit=limit, cursor=cursor
    )
    rooms = await _rooms_by_facility(session, [f.code for f in rows])
    return Page(items=[_read(f, rooms[f.code]) for f in rows], next_cursor=next_cursor)


@router.get("/{code}", response_model=FacilityRead)
async def get_facility(code: str, session: SessionDep, _: Public) -> FacilityRead:
    facility = await session.get(Facility, code)
    if facility is None:
        raise NotFound(f"no facility with code {code}")
    rooms = await _rooms_by_facility(session, [code])
    return _read(facility, rooms[code])
