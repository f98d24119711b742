"""Weekly series: every occurrence is booked in its own savepoint, so a conflict skips that
week (reported) instead of failing the whole group; the group is cancelled as one."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking import reservations_service as reservations
from services.facility_booking.domain.calendar_rules import weekly
from services.facility_booking.domain.lifecycles import ACTIVE_RESERVATION_STATES
from services.facility_booking.facilities_service import SERVICE, load_site
from services.facility_booking.models import Registration, Reservation, Series
from services.facility_booking.reservations_service import Booking
from services.facility_booking.schemas.reservations import SeriesCreate, SeriesRead, SkippedDay
from services.kit import audit
from services.kit.auth import Principal
from services.kit.errors import AppError, NotFound, UnprocessableContent
from services.kit.ids import new_id


async def create(
    session: AsyncSession,
    registration: Registration,
    body: SeriesCreate,
    *,
    actor: Principal,
    now: datetime,
) -> tuple[Series, list[Reservation]]:
    site = await load_site(session, body.facility_code, field="facility_code")
    site.unit(body.unit_code)
    site.slot(body.slot_code)
    series = Series(
        id=new_id("ser"),
        subject=actor.sub,
        facility_code=site.code,
        unit_code=body.unit_code,
        slot_code=body.slot_code,
        first_day=body.first_day,
        weeks=body.weeks,
        created_at=now,
    )
    session.add(series)
    await session.flush()
    booked: list[Reservation] = []
    skipped: list[dict[str, str]] = []
    for day in weekly(body.first_day, body.weeks):
        booking = Booking(
            unit_code=body.unit_code,
            day=day,
            slot_code=body.slot_code,
            payment_method=body.payment_method,
            purpose=body.purpose,
            attendees=body.attendees,
            series_id=series.id,
        )
        try:
            async with session.begin_nested():
                booked.append(
                    await reservations.book(
                        session, site, registration, booking, actor=actor, now=now
                    )
                )
        except UnprocessableContent:
            raise
        except AppError as exc:
            skipped.append({"day": day.isoformat(), "reason": exc.detail})
    if not booked:
        raise UnprocessableContent(
            "no week of this series can be booked: "
            + "; ".join(f"{s['day']}: {s['reason']}" for s in skipped),
            field="first_day",
        )
    series.skipped = skipped
    session.add(series)
    await session.flush()
    await audit.record(
        session,
        actor,
        "series.created",
        series.id,
        service=SERVICE,
        now=now,
        changes={"booked": [r.id for r in booked], "skipped": skipped},
    )
    return series, booked


async def get_owned(session: AsyncSession, series_id: str, subject: str) -> Series:
    found = await session.get(Series, series_id)
    if found is None or found.subject != subject:
        raise NotFound(f"no series {series_id}")
    return found


async def members(session: AsyncSession, series_id: str) -> list[Reservation]:
    query = (
        select(Reservation).where(Reservation.series_id == series_id).order_by(col(Reservation.day))
    )
    return list((await session.exec(query)).all())


async def cancel(
    session: AsyncSession, series: Series, *, actor: Principal, now: datetime
) -> tuple[list[Reservation], list[SkippedDay]]:
    """Cancels every active reservation of the series; those past their cancellation
    deadline stay and are reported."""
    kept: list[SkippedDay] = []
    for reservation in await members(session, series.id):
        if reservation.status not in ACTIVE_RESERVATION_STATES:
            continue
        try:
            async with session.begin_nested():
                await reservations.cancel(session, reservation, actor=actor, now=now)
        except AppError as exc:
            kept.append(SkippedDay(day=reservation.day, reason=exc.detail))
    return await members(session, series.id), kept


def to_read(series: Series, rows: list[Reservation]) -> SeriesRead:
    return SeriesRead(
        **series.model_dump(exclude={"skipped"}),
        reservations=[reservations.to_read(r) for r in rows],
        skipped=[SkippedDay.model_validate(s) for s in series.skipped],
    )
