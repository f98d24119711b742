"""A user's reservations as an iCalendar (RFC 5545) feed at a personal, revocable URL."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking.domain.lifecycles import ReservationState
from services.facility_booking.models import Facility, Registration, Reservation, Unit
from services.kit.clock import JST

FEED_PREFIX = "/v1/facility-users/calendars"
_SHOWN = (
    ReservationState.HELD.value,
    ReservationState.CONFIRMED.value,
    ReservationState.USED.value,
)
_STATUS = {  # RFC 5545 STATUS of an event
    ReservationState.HELD.value: "TENTATIVE",
    ReservationState.CONFIRMED.value: "CONFIRMED",
    ReservationState.USED.value: "CONFIRMED",
}
_LABEL = {
    ReservationState.HELD.value: "（仮予約・お支払い待ち）",
    ReservationState.CONFIRMED.value: "",
    ReservationState.USED.value: "",
}


def feed_path(token: str) -> str:
    return f"{FEED_PREFIX}/{token}.ics"


async def render(session: AsyncSession, registration: Registration, now: datetime) -> bytes:
    found = await session.exec(
        select(Reservation, Facility, Unit)
        .join(Facility, col(Facility.code) == col(Reservation.facility_code))
        .join(
            Unit,
            (col(Unit.facility_code) == col(Reservation.facility_code))
            & (col(Unit.code) == col(Reservation.unit_code)),
        )
        .where(
            Reservation.registration_id == registration.id,
            col(Reservation.status).in_(_SHOWN),
            col(Reservation.ends_at) >= now - timedelta(days=90),
        )
        .order_by(col(Reservation.starts_at))
        .limit(1000)
    )
    from icalendar import Calendar, Event  # only here: the app starts without it

    calendar = Calendar()
    calendar.add("prodid", "-//Demo City//facility_booking//JA")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", "デモ市 施設予約")
    for reservation, facility, unit in found.all():
        event = Event()
        event.add("uid", f"{reservation.id}@facility-booking.city.demo.example.jp")
        event.add("dtstamp", reservation.updated_at)
        event.add("dtstart", reservation.starts_at.astimezone(JST))
        event.add("dtend", reservation.ends_at.astimezone(JST))
        event.add(
            "summary",
            f"{facility.name_ja} {unit.name_ja}{_LABEL[reservation.status]}",
        )
        event.add("location", f"{facility.name_ja}（{facility.address_ja}）")
        event.add("description", f"予約番号 {reservation.id}")
        event.add("status", _STATUS[reservation.status])
        calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data
