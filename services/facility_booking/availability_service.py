"""The slot grid of a unit over a date range: free, held, booked, lottery, blocked, closed or
unavailable, with the price the caller would pay. Two queries whatever the range."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking.domain.booking_rules import window_refusal
from services.facility_booking.domain.calendar_rules import day_type, days, slot_times
from services.facility_booking.domain.lifecycles import ReservationState
from services.facility_booking.domain.pricing import quote
from services.facility_booking.domain.vocabulary import CellState, HolderKind
from services.facility_booking.facilities_service import Site
from services.facility_booking.models import LotteryRound, Registration, Reservation
from services.facility_booking.occupancy_service import holders_in
from services.facility_booking.registrations_service import reduction_percent_of, residency_of
from services.facility_booking.schemas.facilities import AvailabilityRead, CellRead, DayRead
from services.kit.clock import JST
from services.kit.errors import UnprocessableContent

MAX_DAYS = 62

_HOLDER_STATE = {
    HolderKind.BLOCK: CellState.BLOCKED,
    HolderKind.LOTTERY_WIN: CellState.HELD,
    HolderKind.WAITLIST_OFFER: CellState.HELD,
}


def check_range(first: date, last: date) -> None:
    if last < first:
        raise UnprocessableContent("to is before from", field="to")
    if (last - first).days >= MAX_DAYS:
        raise UnprocessableContent(f"at most {MAX_DAYS} days at a time", field="to")


async def _lottery_months(
    session: AsyncSession, site: Site, unit_code: str, now: datetime
) -> set[str]:
    rounds = await session.exec(
        select(LotteryRound).where(
            LotteryRound.facility_code == site.code,
            col(LotteryRound.first_come_opens_at) > now,
        )
    )
    mine = site.leaves[unit_code]
    months: set[str] = set()
    for round_ in rounds.all():
        covered = {leaf for code in round_.unit_codes for leaf in site.leaves.get(code, ())}
        if not round_.unit_codes or covered & mine:
            months.add(round_.target_month)
    return months


async def grid(
    session: AsyncSession,
    site: Site,
    unit_code: str,
    first: date,
    last: date,
    *,
    registration: Registration | None,
    now: datetime,
) -> AvailabilityRead:
    check_range(first, last)
    unit = site.unit(unit_code, field="unit")
    leaves = site.leaves[unit.code]
    rows = await holders_in(session, site.code, leaves, first, last)
    held_ids = {r.holder_id for r in rows if r.holder_kind == HolderKind.RESERVATION.value}
    statuses: dict[str, str] = {}
    if held_ids:
        found = await session.exec(
            select(Reservation.id, Reservation.status).where(col(Reservation.id).in_(held_ids))
        )
        statuses = dict(found.all())
    taken: dict[tuple[date, str], CellState] = {}
    for row in rows:
        kind = HolderKind(row.holder_kind)
        if kind is HolderKind.RESERVATION:
            held = statuses.get(row.holder_id) == ReservationState.HELD.value
            state = CellState.HELD if held else CellState.BOOKED
        else:
            state = _HOLDER_STATE[kind]
        key = (row.day, row.slot_code)
        if taken.get(key) is not CellState.BLOCKED:
            taken[key] = state
    lottery = await _lottery_months(session, site, unit.code, now)
    residency = residency_of(registration)
    reduction = reduction_percent_of(registration)
    rules = site.fee_rules(unit.code)
    closed_days = site.closed
    out: list[DayRead] = []
    for day in days(first, last):
        closed = closed_days.is_closed(day)
        cells: list[CellRead] = []
        for slot in site.slots:
            starts_at, ends_at = slot_times(day, slot)
            state = CellState.CLOSED if closed else taken.get((day, slot.code), CellState.FREE)
            if state is CellState.FREE and day.isoformat()[:7] in lottery:
                state = CellState.LOTTERY
            elif state is CellState.FREE and window_refusal(
                site.windows, residency, day, starts_at, now
            ):
                state = CellState.UNAVAILABLE
            price = None if closed else quote(rules, slot.code, day, residency, reduction).amount
            cells.append(
                CellRead(
                    slot_code=slot.code,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    state=state,
                    price=price,
                )
            )
        out.append(DayRead(day=day, day_type=day_type(day), closed=closed, cells=cells))
    return AvailabilityRead(
        facility_code=site.code,
        unit_code=unit.code,
        residency=residency,
        reduction_percent=reduction,
        days=out,
    )


def default_range(now: datetime) -> tuple[date, date]:
    today = now.astimezone(JST).date()
    return today, today + timedelta(days=13)
