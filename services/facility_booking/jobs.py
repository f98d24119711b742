"""Scheduled work: expire unpaid holds, lapse waitlist offers, mark past reservations used."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import col, select

from services.facility_booking import (
    lottery_service,
    notices,
    reservations_service,
    waitlist_service,
)
from services.facility_booking.domain.lifecycles import ReservationState
from services.facility_booking.models import Reservation
from services.kit.clock import JST
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


async def run_lotteries(context: JobContext) -> int:
    """Draws rounds at their draw time and finishes them after the confirmation deadline."""
    now = context.clock.now()
    async with context.db.session() as session:
        to_draw, to_finish = await lottery_service.due_rounds(session, now)
        for round_ in to_draw:
            await lottery_service.draw_round(session, round_, actor=None, now=now)
        for round_ in to_finish:
            await lottery_service.finish(session, round_, now)
        return len(to_draw) + len(to_finish)


async def remind(context: JobContext) -> int:
    """The day-before mail (前日のお知らせ) of every confirmed reservation of tomorrow (JST)."""
    now = context.clock.now()
    tomorrow = now.astimezone(JST).date() + timedelta(days=1)
    async with context.db.session() as session:
        due = await session.exec(
            select(Reservation)
            .where(
                Reservation.status == ReservationState.CONFIRMED.value,
                Reservation.day <= tomorrow,
                col(Reservation.starts_at) > now,
                col(Reservation.reminded_at).is_(None),
            )
            .limit(BATCH)
        )
        rows = list(due.all())
        for reservation in rows:
            reservation.reminded_at = now
            session.add(reservation)
            await notices.reminder(session, reservation, now)
        return len(rows)


JOBS: tuple[Job, ...] = (
    Job("facility_booking.remind", timedelta(minutes=30), remind),
    Job("facility_booking.lotteries", timedelta(minutes=1), run_lotteries),
    Job("facility_booking.expire_holds", timedelta(minutes=1), expire_holds),
    Job("facility_booking.lapse_offers", timedelta(minutes=5), lapse_offers),
    Job("facility_booking.mark_used", timedelta(minutes=15), mark_used),
)
