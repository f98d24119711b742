"""Facilities and their units: lookups, the rules they are booked by, search, staff edits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking.domain.booking_rules import HoldTimes, Windows
from services.facility_booking.domain.calendar_rules import ClosedDays, Slot, slot_of, slots_of
from services.facility_booking.domain.pricing import DEFAULT_FEE_KEY, FeeRules
from services.facility_booking.domain.units import leaves
from services.facility_booking.domain.vocabulary import SlotScheme
from services.facility_booking.models import Facility, Occupancy, Unit
from services.facility_booking.schemas.facilities import (
    FacilityRead,
    FacilityRules,
    FacilityRulesPatch,
    RefundTier,
    SlotRead,
    UnitPatch,
    UnitRead,
)
from services.kit import audit
from services.kit.auth import Principal
from services.kit.errors import Forbidden, NotFound, UnprocessableContent
from services.kit.pagination import keyset_page

SERVICE = "facility_booking"


@dataclass(frozen=True, slots=True)
class Site:
    """A facility with its units and unit tree, as the booking rules need it."""

    facility: Facility
    units: dict[str, Unit]
    leaves: dict[str, frozenset[str]]

    @property
    def code(self) -> str:
        return self.facility.code

    @property
    def scheme(self) -> SlotScheme:
        return SlotScheme(self.facility.slot_scheme)

    @property
    def slots(self) -> tuple[Slot, ...]:
        return slots_of(self.scheme)

    @property
    def closed(self) -> ClosedDays:
        f = self.facility
        return ClosedDays(
            weekdays=frozenset(f.closed_weekdays),
            new_year_break=f.closed_new_year,
            dates=frozenset(date.fromisoformat(d) for d in f.closed_dates),
        )

    @property
    def windows(self) -> Windows:
        f = self.facility
        return Windows(
            f.resident_window_days, f.non_resident_window_days, f.booking_closes_hours_before
        )

    @property
    def holds(self) -> HoldTimes:
        f = self.facility
        return HoldTimes(f.card_hold_minutes, f.konbini_hold_days, f.counter_hold_days)

    @property
    def refund_tiers(self) -> tuple[tuple[int, int], ...]:
        return tuple((int(d), int(p)) for d, p in self.facility.refund_tiers)

    def fee_rules(self, unit_code: str) -> FeeRules:
        f = self.facility
        return FeeRules(self.units[unit_code].fees, f.holiday_percent, f.non_resident_percent)

    def unit(self, code: str, field: str = "unit_code") -> Unit:
        unit = self.units.get(code)
        if unit is None:
            raise UnprocessableContent(f"{self.code} has no unit {code}", field=field)
        return unit

    def slot(self, code: str, field: str = "slot_code") -> Slot:
        slot = slot_of(self.scheme, code)
        if slot is None:
            known = ", ".join(s.code for s in self.slots)
            raise UnprocessableContent(
                f"{self.code} books by {self.scheme.value} slots: {known}", field=field
            )
        return slot


async def load_site(session: AsyncSession, code: str, *, field: str | None = None) -> Site:
    """The facility `code`; a 404, or a 422 naming `field` when the code came in a body."""
    facility = await session.get(Facility, code)
    if facility is None:
        if field is not None:
            raise UnprocessableContent(f"no facility with code {code}", field=field)
        raise NotFound(f"no facility with code {code}")
    query = select(Unit).where(Unit.facility_code == code).order_by(col(Unit.sort_order))
    units = {u.code: u for u in (await session.exec(query)).all()}
    tree = leaves({u.code: u.parent_code for u in units.values()})
    return Site(facility, units, tree)


async def units_by_facility(session: AsyncSession, codes: Sequence[str]) -> dict[str, list[Unit]]:
    query = (
        select(Unit)
        .where(col(Unit.facility_code).in_(codes))
        .order_by(col(Unit.facility_code), col(Unit.sort_order))
    )
    found: dict[str, list[Unit]] = {code: [] for code in codes}
    for unit in (await session.exec(query)).all():
        found[unit.facility_code].append(unit)
    return found


@dataclass(frozen=True, slots=True)
class Search:
    kind: str | None = None
    district: str | None = None
    min_capacity: int | None = None
    free_on: date | None = None


async def _free_on(session: AsyncSession, day: date) -> set[str]:
    """Facilities open on `day` with at least one leaf unit free in at least one slot (a free
    leaf is a bookable unit itself)."""
    facilities = (await session.exec(select(Facility))).all()
    units = await units_by_facility(session, [f.code for f in facilities])
    taken_rows = await session.exec(
        select(Occupancy.facility_code, func.count())
        .where(Occupancy.day == day)
        .group_by(col(Occupancy.facility_code))
    )
    taken: dict[str, int] = {code: int(n) for code, n in taken_rows.all()}
    free: set[str] = set()
    for facility in facilities:
        site = Site(facility, {}, {})
        if site.closed.is_closed(day):
            continue
        tree = leaves({u.code: u.parent_code for u in units[facility.code]})
        leaf_count = len({leaf for ls in tree.values() for leaf in ls})
        if taken.get(facility.code, 0) < leaf_count * len(site.slots):
            free.add(facility.code)
    return free


async def search(
    session: AsyncSession, filters: Search, *, limit: int, cursor: str | None
) -> tuple[list[Facility], dict[str, list[Unit]], str | None]:
    query = select(Facility)
    if filters.kind is not None:
        query = query.where(Facility.kind == filters.kind)
    if filters.district is not None:
        query = query.where(Facility.district == filters.district)
    if filters.min_capacity is not None:
        roomy = select(Unit.facility_code).where(col(Unit.capacity) >= filters.min_capacity)
        query = query.where(col(Facility.code).in_(roomy))
    if filters.free_on is not None:
        query = query.where(col(Facility.code).in_(await _free_on(session, filters.free_on)))
    rows, next_cursor = await keyset_page(
        session, query, col(Facility.code), limit=limit, cursor=cursor
    )
    return rows, await units_by_facility(session, [f.code for f in rows]), next_cursor


def require_manager(facility: Facility, principal: Principal) -> None:
    """Staff manage only their own department's facilities (admins every one)."""
    if principal.department != facility.department and not principal.has_role("admin"):
        raise Forbidden(f"{facility.code} is managed by the department {facility.department}")


async def is_facility_department(session: AsyncSession, principal: Principal) -> bool:
    if principal.has_role("admin"):
        return True
    found = await session.exec(
        select(Facility.code).where(Facility.department == principal.department).limit(1)
    )
    return found.first() is not None


async def require_facility_staff(session: AsyncSession, principal: Principal) -> None:
    if not await is_facility_department(session, principal):
        raise Forbidden("this endpoint is for staff of a department that manages facilities")


async def update_rules(
    session: AsyncSession, site: Site, changes: dict[str, Any], *, actor: Principal, now: Any
) -> Facility:
    require_manager(site.facility, actor)
    before = {k: getattr(site.facility, k) for k in changes}
    for field, value in changes.items():
        setattr(site.facility, field, value)
    session.add(site.facility)
    await session.flush()
    await audit.record(
        session,
        actor,
        "facility.rules_changed",
        site.code,
        service=SERVICE,
        now=now,
        changes={"old": before, "new": changes},
    )
    return site.facility


async def update_unit(
    session: AsyncSession,
    site: Site,
    unit_code: str,
    changes: dict[str, Any],
    *,
    actor: Principal,
    now: Any,
) -> Unit:
    require_manager(site.facility, actor)
    unit = site.units.get(unit_code)
    if unit is None:
        raise NotFound(f"{site.code} has no unit {unit_code}")
    before = {k: getattr(unit, k) for k in changes}
    for field, value in changes.items():
        setattr(unit, field, value)
    session.add(unit)
    await session.flush()
    await audit.record(
        session,
        actor,
        "facility.unit_changed",
        f"{site.code}/{unit_code}",
        service=SERVICE,
        now=now,
        changes={"old": before, "new": changes},
    )
    return unit


def to_read(facility: Facility, units: Sequence[Unit]) -> FacilityRead:
    tree = leaves({u.code: u.parent_code for u in units})
    scheme = SlotScheme(facility.slot_scheme)
    data = facility.model_dump()
    rules = {k: data[k] for k in FacilityRules.model_fields if k != "refund_tiers"}
    rules["refund_tiers"] = [
        RefundTier(min_days_before=d, refund_percent=p) for d, p in facility.refund_tiers
    ]
    return FacilityRead(
        **{k: data[k] for k in FacilityRead.model_fields if k in data and k != "slot_scheme"},
        slot_scheme=scheme,
        slots=[
            SlotRead(code=s.code, label_ja=s.label_ja, start=s.start, end=s.end)
            for s in slots_of(scheme)
        ],
        rules=FacilityRules(**rules),
        units=[UnitRead(**u.model_dump(), leaf_codes=sorted(tree[u.code])) for u in units],
    )


def rules_changes(patch: FacilityRulesPatch) -> dict[str, Any]:
    """The patch as column values (dates as ISO text, tiers as pairs)."""
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    if patch.closed_dates is not None:
        changes["closed_dates"] = sorted(d.isoformat() for d in patch.closed_dates)
    if patch.refund_tiers is not None:
        changes["refund_tiers"] = [
            [t.min_days_before, t.refund_percent] for t in patch.refund_tiers
        ]
    if patch.closed_weekdays is not None:
        if any(not 0 <= d <= 6 for d in patch.closed_weekdays):
            raise UnprocessableContent("weekdays run from 0 (Monday) to 6", field="closed_weekdays")
        changes["closed_weekdays"] = sorted(set(patch.closed_weekdays))
    return changes


def unit_changes(site: Site, patch: UnitPatch) -> dict[str, Any]:
    changes = patch.model_dump(exclude_unset=True, exclude_none=True)
    if patch.fees is not None:
        known = {s.code for s in site.slots} | {DEFAULT_FEE_KEY}
        for key, yen in patch.fees.items():
            if key not in known:
                raise UnprocessableContent(f"no slot {key} at {site.code}", field="fees")
            if not 0 <= yen <= 999_999:
                raise UnprocessableContent("a fee is 0 to 999,999 yen", field="fees")
    return changes
