"""Demo data: facilities and their units from the city data file (idempotent upsert by code),
and the lottery rounds (抽選) a newcomer finds open. Every fee in it is fictional.

A round in the file has durations, not dates: its entry window opens when it is seeded, on
the service's simulated clock (the shared offset in its database), so a demo seeded today or
next year shows a round that takes entries. A facility keeps one seeded round while its
window has not closed; seeding again after that opens the next one."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking import lottery_service
from services.facility_booking.domain.lifecycles import RoundState
from services.facility_booking.domain.units import leaves
from services.facility_booking.models import Facility, LotteryRound, Unit
from services.facility_booking.schemas.lottery import RoundCreate
from services.kit.auth import Principal
from services.kit.clock import JST, Clock
from services.kit.tables import SimulationClock

_FACILITY_FIELDS = tuple(f for f in Facility.model_fields if f != "code")
_UNIT_FIELDS = tuple(f for f in Unit.model_fields if f not in ("facility_code", "code"))


SEED_ACTOR_SUB = "facility_booking"  # a system actor, as the draw job is


def _facility_values(item: Mapping[str, Any]) -> dict[str, Any]:
    return {f: item[f] for f in _FACILITY_FIELDS if f in item}


def _unit_values(item: Mapping[str, Any], order: int) -> dict[str, Any]:
    values = {f: item[f] for f in _UNIT_FIELDS if f in item}
    values["parent_code"] = item.get("parent")
    values["sort_order"] = order
    return values


async def _simulated_now(session: AsyncSession) -> datetime:
    """The service's clock at its shared simulation offset (`kit.shared_clock`)."""
    found = await session.exec(
        select(SimulationClock.offset_microseconds).where(col(SimulationClock.id) == 1)
    )
    return Clock(timedelta(microseconds=found.first() or 0)).now()


def _next_month(month: str) -> str:
    first = date.fromisoformat(f"{month}-01")
    return (first + timedelta(days=32)).strftime("%Y-%m")


def round_body(
    item: Mapping[str, Any], name_ja: str, now: datetime, taken: set[str]
) -> RoundCreate:
    """The round of `item` (durations in days) with its entry window opening at `now`, for the
    first month after first-come opens (the API's rule) that has no round yet."""
    closes_at = now + timedelta(days=item["entry_days"])
    draw_at = closes_at + timedelta(days=item["draw_days_after_close"])
    confirm_by = draw_at + timedelta(days=item["confirm_days"])
    first_come = confirm_by + timedelta(days=item["first_come_days_after_confirm"])
    month = _next_month(first_come.astimezone(JST).strftime("%Y-%m"))
    while month in taken:  # one round per facility and month
        month = _next_month(month)
    year, number = month.split("-")
    return RoundCreate(
        facility_code=item["facility_code"],
        target_month=month,
        title_ja=f"{name_ja} {year}年{int(number)}月分の抽選",
        unit_codes=list(item.get("unit_codes", ())),
        opens_at=now,
        closes_at=closes_at,
        draw_at=draw_at,
        confirm_by=confirm_by,
        first_come_opens_at=first_come,
        max_entries_per_user=item.get("max_entries_per_user", 3),
    )


async def _seed_round(session: AsyncSession, item: Mapping[str, Any], now: datetime) -> None:
    """A round for the facility of `item`, unless one of its rounds still takes entries (or
    will)."""
    facility = await session.get(Facility, item["facility_code"])
    if facility is None:
        raise LookupError(f"lottery round for an unknown facility {item['facility_code']}")
    rounds = (
        await session.exec(select(LotteryRound).where(LotteryRound.facility_code == facility.code))
    ).all()
    if any(r.status == RoundState.OPEN.value and r.closes_at > now for r in rounds):
        return
    body = round_body(item, facility.name_ja, now, {r.target_month for r in rounds})
    actor = Principal(sub=SEED_ACTOR_SUB, kind="service", department=facility.department)
    await lottery_service.create(session, body, actor=actor, now=now)


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
    rounds = list(city.get("lottery_rounds", ()))
    if rounds:
        now = await _simulated_now(session)
        for round_item in rounds:
            await _seed_round(session, round_item, now)
            count += 1
        await session.flush()
    return count
