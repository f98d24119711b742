"""Demo data: facilities and rooms of the city data file (idempotent upsert by code)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking.models import Facility, Room

_FACILITY_FIELDS = ("name_ja", "name_en", "kind", "district", "lat", "lon")
_ROOM_FIELDS = ("name_ja", "kind", "capacity")


async def seed(session: AsyncSession, city: Mapping[str, Any]) -> int:
    count = 0
    for item in city.get("facilities", ()):
        facility = await session.get(Facility, item["code"])
        if facility is None:
            session.add(Facility(code=item["code"], **{f: item[f] for f in _FACILITY_FIELDS}))
        else:
            for field in _FACILITY_FIELDS:
                setattr(facility, field, item[field])
        await session.flush()
        for room_item in item.get("rooms", ()):
            room = await session.get(Room, (item["code"], room_item["code"]))
            if room is None:
                fields = {f: room_item[f] for f in _ROOM_FIELDS}
                session.add(Room(facility_code=item["code"], code=room_item["code"], **fields))
            else:
                for field in _ROOM_FIELDS:
                    setattr(room, field, room_item[field])
        count += 1
    await session.flush()
    return count
