"""キャンセル待ち offers: when a slot frees, the first waiting user whose unit is wholly free
again gets it held (occupancy rows of the offer) until a deadline."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking import notices
from services.facility_booking.domain.lifecycles import WAITLIST, WaitState, WaitStep
from services.facility_booking.domain.vocabulary import HolderKind
from services.facility_booking.facilities_service import SERVICE, Site
from services.facility_booking.models import WaitlistEntry
from services.facility_booking.occupancy_service import cells, try_occupy
from services.kit import audit
from services.kit.auth import Principal
from services.kit.errors import IllegalTransition


async def move(
    session: AsyncSession,
    entry: WaitlistEntry,
    step: WaitStep,
    *,
    actor: Principal | None,
    now: datetime,
    **values: object,
) -> None:
    """Compare-and-set on the status: a concurrent move makes this one a 409."""
    before = WaitState(entry.status)
    after = WAITLIST.apply(before, step)
    result = await session.exec(
        update(WaitlistEntry)
        .where(col(WaitlistEntry.id) == entry.id, col(WaitlistEntry.status) == before.value)
        .values(status=after.value, **values)
    )
    if getattr(result, "rowcount", 0) != 1:
        await session.refresh(entry)
        raise IllegalTransition(entry.status, step.value)
    await session.refresh(entry)
    await audit.record(
        session,
        actor,
        f"waitlist.{step.value}",
        entry.id,
        service=SERVICE,
        now=now,
        changes={"status": [before.value, after.value]},
    )


async def offer_freed(
    session: AsyncSession, site: Site, day: date, slot_code: str, now: datetime
) -> WaitlistEntry | None:
    """Offers the freed slot to the first waiting user whose unit can now be held."""
    waiting = await session.exec(
        select(WaitlistEntry)
        .where(
            WaitlistEntry.facility_code == site.code,
            WaitlistEntry.day == day,
            WaitlistEntry.slot_code == slot_code,
            WaitlistEntry.status == WaitState.WAITING.value,
        )
        .order_by(col(WaitlistEntry.created_at), col(WaitlistEntry.id))
    )
    deadline = now + timedelta(hours=site.facility.waitlist_offer_hours)
    for entry in waiting.all():
        wanted = cells(site.leaves[entry.unit_code], day, slot_code)
        if await try_occupy(session, site.code, wanted, HolderKind.WAITLIST_OFFER, entry.id):
            await move(
                session, entry, WaitStep.OFFER, actor=None, now=now, offer_expires_at=deadline
            )
            await notices.waitlist_offer(session, entry, now)
            return entry
    return None
