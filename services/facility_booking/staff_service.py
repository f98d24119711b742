"""What staff read about a facility: usage statistics (稼働率) and the day's list."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking.domain.calendar_rules import days
from services.facility_booking.domain.lifecycles import ReservationState
from services.facility_booking.domain.vocabulary import HolderKind
from services.facility_booking.facilities_service import SERVICE, Site, require_manager
from services.facility_booking.models import Registration, Reservation
from services.facility_booking.occupancy_service import holders_in
from services.facility_booking.schemas.facilities import (
    DaySheet,
    DaySheetEntry,
    UnitUsage,
    UsageRead,
)
from services.kit import audit
from services.kit.auth import Principal
from services.kit.clock import JST
from services.kit.errors import UnprocessableContent

MAX_USAGE_DAYS = 366
_COUNTED = (ReservationState.CONFIRMED.value, ReservationState.USED.value)


def _rate(booked: int, open_slots: int) -> float:
    return round(booked / open_slots, 4) if open_slots else 0.0


async def usage(
    session: AsyncSession, site: Site, first: date, last: date, *, actor: Principal
) -> UsageRead:
    """Per unit: a slot counts as booked when a confirmed or used reservation holds any of
    its leaves, blocked when a block does; open slots are those of open days less blocks."""
    require_manager(site.facility, actor)
    if last < first:
        raise UnprocessableContent("to is before from", field="to")
    if (last - first).days >= MAX_USAGE_DAYS:
        raise UnprocessableContent(f"at most {MAX_USAGE_DAYS} days at a time", field="to")
    all_leaves = {leaf for ls in site.leaves.values() for leaf in ls}
    rows = await holders_in(session, site.code, all_leaves, first, last)
    reservation_ids = [r.holder_id for r in rows if r.holder_kind == HolderKind.RESERVATION.value]
    counted: set[str] = set()
    if reservation_ids:
        found = await session.exec(
            select(Reservation.id).where(
                col(Reservation.id).in_(reservation_ids), col(Reservation.status).in_(_COUNTED)
            )
        )
        counted = set(found.all())
    booked_cells = {(r.unit_code, r.day, r.slot_code) for r in rows if r.holder_id in counted}
    blocked_cells = {
        (r.unit_code, r.day, r.slot_code) for r in rows if r.holder_kind == HolderKind.BLOCK.value
    }
    open_days = [d for d in days(first, last) if not site.closed.is_closed(d)]
    slot_codes = [s.code for s in site.slots]
    units: list[UnitUsage] = []
    totals = [0, 0]
    for code in site.units:
        leaves = site.leaves[code]
        booked = blocked = 0
        for day in open_days:
            for slot in slot_codes:
                mine = {(leaf, day, slot) for leaf in leaves}
                if mine & blocked_cells:
                    blocked += 1
                elif mine & booked_cells:
                    booked += 1
        open_slots = len(open_days) * len(slot_codes) - blocked
        units.append(
            UnitUsage(
                unit_code=code,
                open_slots=open_slots,
                booked_slots=booked,
                blocked_slots=blocked,
                occupancy_rate=_rate(booked, open_slots),
            )
        )
    leaf_open = len(open_days) * len(slot_codes) * len(all_leaves)
    leaf_blocked = len([c for c in blocked_cells if c[1] in set(open_days)])
    leaf_booked = len([c for c in booked_cells - blocked_cells if c[1] in set(open_days)])
    totals = [leaf_booked, leaf_open - leaf_blocked]
    return UsageRead(
        facility_code=site.code,
        day_from=first,
        day_to=last,
        units=units,
        facility_rate=_rate(totals[0], totals[1]),
    )


async def day_sheet(
    session: AsyncSession, site: Site, day: date, *, actor: Principal, now: datetime
) -> DaySheet:
    """The day's reservations with who booked them (personal data: the read is audited)."""
    require_manager(site.facility, actor)
    found = await session.exec(
        select(Reservation, Registration)
        .join(Registration, col(Registration.id) == col(Reservation.registration_id))
        .where(
            Reservation.facility_code == site.code,
            Reservation.day == day,
            col(Reservation.status).in_([ReservationState.HELD.value, *_COUNTED]),
        )
        .order_by(col(Reservation.starts_at), col(Reservation.unit_code))
    )
    entries = [
        DaySheetEntry(
            reservation_id=r.id,
            unit_code=r.unit_code,
            slot_code=r.slot_code,
            starts_at=r.starts_at.astimezone(JST),
            status=r.status,
            user_number=g.user_number,
            name=g.name,
            group_name=g.group_name,
            attendees=r.attendees,
            purpose=r.purpose,
            fee=r.fee,
            paid_amount=r.paid_amount,
        )
        for r, g in found.all()
    ]
    await audit.record(
        session,
        actor,
        "facility.day_sheet_viewed",
        f"{site.code}/{day.isoformat()}",
        service=SERVICE,
        now=now,
    )
    return DaySheet(facility_code=site.code, day=day, entries=entries)
