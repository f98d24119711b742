"""Scheduled work: expire unpaid holds, lapse waitlist offers, mark past reservations used."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from services.facility_booking import reservations_service, waitlist_service
from services.facility_booking.domain.lifecycles import ReservationState
from services.facility_booking.models import Reservation
from services.kit.jobs import Job, JobContext

BATCH = 200


async def expire_holds(context: JobContext) -> int:
    now = context.clock.now()
    async with context.db.session() as session:
        due = await session.exec(
            select(Reservation)
            .where(
                Reservation.status == ReservationState.HELD.value,
                col(Reservation.hold_expires_at) <= now,
            )
            .order_by(col(Reservation.hold_expires_at))
            .limit(BATCH)
        )
        rows = list(due.all())
        for reservation in rows:
            await reservations_service.expire(session, reservation, now)
        return len(rows)


async def lapse_offers(context: JobContext) -> int:
    async with context.db.session() as session:
        return await waitlist_service.lapse_due(session, context.clock.now())


async def mark_used(context: JobContext) -> int:
    now = context.clock.now()
    async with context.db.session() as session:
        due = await session.exec(
            select(Reservation)
            .where(
                Reservation.status == ReservationState.CONFIRMED.value,
                col(Reservation.ends_at) <= now,
            )
            .limit(BATCH)
        )
        rows = list(due.all())
        for reservation in rows:
            await reservations_service.use(session, reservation, now)
        return len(rows)


JOBS: tuple[Job, ...] = (
    Job("facility_booking.expire_holds", timedelta(minutes=1), expire_holds),
    Job("facility_booking.lapse_offers", timedelta(minutes=5), lapse_offers),
    Job("facility_booking.mark_used", timedelta(minutes=15), mark_used),
)
