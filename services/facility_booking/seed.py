"""Demo data: facilities and their units from the city data file (idempotent upsert by code).
Every fee in it is fictional."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking.domain.units import leaves
from services.facility_booking.models import Facility, Unit

_FACILITY_FIELDS = tuple(f for f in Facility.model_fields if f != "code")
_UNIT_FIELDS = tuple(f for f in Unit.model_fields if f not in ("facility_code", "code"))


def _facility_values(item: Mapping[str, Any]) -> dict[str, Any]:
    return {f: item[f] for f in _FACILITY_FIELDS if f in item}


def _unit_values(item: Mapping[str, Any], order: int) -> dict[str, Any]:
    values = {f: item[f] for f in _UNIT_FIELDS if f in item}
    values["parent_code"] = item.get("parent")
    values["sort_order"] = order
    return values


async def seed(session: AsyncSession, city: Mapping[str, Any]) -> int:
    count = 0
    for item in city.get("facilities", ()):
        units = list(item.get("units", ()))
        leaves({u["code"]: u.get("parent") for u in units})  # refuses a broken tree
        facility = await session.get(Facility, item["code"])
        if facility is None:
            session.add(Facility(code=item["code"], **_facility_values(item)))
        else:
            for field, value in _facility_values(item).items():
                setattr(facility, field, value)
        await session.flush()
        for order, unit_item in enumerate(units):
            unit = await session.get(Unit, (item["code"], unit_item["code"]))
            values = _unit_values(unit_item, order)
            if unit is None:
                session.add(Unit(facility_code=item["code"], code=unit_item["code"], **values))
            else:
                for field, value in values.items():
                    setattr(unit, field, value)
        count += 1
    await session.flush()
    return count
