"""キャンセル待ち: join the waitlist of a taken slot, accept an offer (the held rows become the
reservation), leave; expired offers lapse and pass to the next user."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking import reservations_service as reservations
from services.facility_booking.domain.lifecycles import WaitState, WaitStep
from services.facility_booking.facilities_service import load_site
from services.facility_booking.models import Registration, Reservation, WaitlistEntry
from services.facility_booking.occupancy_service import holders_in, release
from services.facility_booking.reservations_service import Booking
from services.facility_booking.schemas.reservations import WaitAccept, WaitCreate, WaitRead
from services.facility_booking.waitlist_offers import move, offer_freed
from services.kit.auth import Principal
from services.kit.errors import Conflict, NotFound
from services.kit.ids import new_id
from services.kit.pagination import keyset_page

MAX_WAITING_PER_USER = 10


async def join(
    session: AsyncSession,
    registration: Registration,
    body: WaitCreate,
    *,
    actor: Principal,
    now: datetime,
) -> WaitlistEntry:
    site = await load_site(session, body.facility_code, field="facility_code")
    unit = site.unit(body.unit_code)
    slot = site.slot(body.slot_code)
    await reservations.check_first_come(session, site, registration, unit.code, body.day, slot, now)
    taken = await holders_in(
        session, site.code, site.leaves[unit.code], body.day, body.day, [slot.code]
    )
    if not taken:
        raise Conflict("this slot is free: book it instead of waiting")
    mine = await session.exec(
        select(WaitlistEntry).where(
            WaitlistEntry.subject == actor.sub,
            col(WaitlistEntry.status).in_([WaitState.WAITING.value, WaitState.OFFERED.value]),
        )
    )
    active = list(mine.all())
    if any(
        (e.facility_code, e.unit_code, e.day, e.slot_code)
        == (site.code, unit.code, body.day, slot.code)
        for e in active
    ):
        raise Conflict("you are already waiting for this slot")
    if len(active) >= MAX_WAITING_PER_USER:
        raise Conflict(f"at most {MAX_WAITING_PER_USER} waitlist entries at a time")
    entry = WaitlistEntry(
        id=new_id("wl"),
        subject=actor.sub,
        registration_id=registration.id,
        facility_code=site.code,
        unit_code=unit.code,
        day=body.day,
        slot_code=slot.code,
        status=WaitState.WAITING.value,
        created_at=now,
    )
    session.add(entry)
    await session.flush()
    return entry


async def get_owned(session: AsyncSession, wait_id: str, subject: str) -> WaitlistEntry:
    found = await session.get(WaitlistEntry, wait_id)
    if found is None or found.subject != subject:
        raise NotFound(f"no waitlist entry {wait_id}")
    return found


async def accept(
    session: AsyncSession,
    entry: WaitlistEntry,
    registration: Registration,
    body: WaitAccept,
    *,
    actor: Principal,
    now: datetime,
) -> Reservation:
    if entry.offer_expires_at is not None and entry.offer_expires_at <= now:
        raise Conflict("this offer has lapsed")
    site = await load_site(session, entry.facility_code)
    await move(session, entry, WaitStep.ACCEPT, actor=actor, now=now)
    booking = Booking(
        unit_code=entry.unit_code,
        day=entry.day,
        slot_code=entry.slot_code,
        payment_method=body.payment_method,
        taken_over_from=entry.id,
    )
    reservation = await reservations.book(
        session, site, registration, booking, actor=actor, now=now
    )
    entry.reservation_id = reservation.id
    session.add(entry)
    await session.flush()
    return reservation


async def leave(
    session: AsyncSession, entry: WaitlistEntry, *, actor: Principal, now: datetime
) -> None:
    offered = WaitState(entry.status) is WaitState.OFFERED
    await move(session, entry, WaitStep.LEAVE, actor=actor, now=now)
    if offered:
        await release(session, entry.id)
        site = await load_site(session, entry.facility_code)
        await offer_freed(session, site, entry.day, entry.slot_code, now)


async def lapse_due(session: AsyncSession, now: datetime) -> int:
    due = await session.exec(
        select(WaitlistEntry).where(
            WaitlistEntry.status == WaitState.OFFERED.value,
            col(WaitlistEntry.offer_expires_at) <= now,
        )
    )
    count = 0
    for entry in due.all():
        await move(session, entry, WaitStep.LAPSE, actor=None, now=now)
        await release(session, entry.id)
        site = await load_site(session, entry.facility_code)
        await offer_freed(session, site, entry.day, entry.slot_code, now)
        count += 1
    return count


async def list_mine(
    session: AsyncSession, subject: str, *, limit: int, cursor: str | None
) -> tuple[list[WaitlistEntry], str | None]:
    query = select(WaitlistEntry).where(WaitlistEntry.subject == subject)
    return await keyset_page(session, query, col(WaitlistEntry.id), limit=limit, cursor=cursor)


async def to_read(session: AsyncSession, entry: WaitlistEntry) -> WaitRead:
    position: int | None = None
    if WaitState(entry.status) is WaitState.WAITING:
        ahead = await session.exec(
            select(func.count())
            .select_from(WaitlistEntry)
            .where(
                WaitlistEntry.facility_code == entry.facility_code,
                WaitlistEntry.day == entry.day,
                WaitlistEntry.slot_code == entry.slot_code,
                WaitlistEntry.status == WaitState.WAITING.value,
                col(WaitlistEntry.created_at) <= entry.created_at,
                col(WaitlistEntry.id) < entry.id,
            )
        )
        position = int(ahead.one()) + 1
    return WaitRead.model_validate({**entry.model_dump(), "position": position})
