"""Mail to users through alert_mail's templates (kit.notify: queued in the outbox in the same
transaction as the change it announces)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking.domain.calendar_rules import slot_of, slot_times
from services.facility_booking.domain.vocabulary import SlotScheme
from services.facility_booking.models import (
    Facility,
    LotteryEntry,
    Registration,
    Reservation,
    Unit,
    WaitlistEntry,
)
from services.kit.clock import JST
from services.kit.notify import enqueue_notification

CONFIRMED = "tpl_facility_booking_confirmed"
REMINDER = "tpl_facility_booking_reminder"
CANCELLED = "tpl_facility_booking_cancelled"
WAITLIST_OFFER = "tpl_facility_booking_waitlist_offer"
LOTTERY_RESULT = "tpl_facility_booking_lottery_result"
PAYMENT_DUE = "tpl_payments_due"
_WEEKDAYS = "月火水木金土日"


def _jst(moment: datetime) -> datetime:
    return moment.astimezone(JST)


def _date(moment: datetime) -> str:
    local = _jst(moment)
    return f"{local.year}年{local.month}月{local.day}日（{_WEEKDAYS[local.weekday()]}）"


def addressee(registration: Registration) -> str:
    if registration.group_name:
        return f"{registration.group_name} {registration.representative_name or registration.name}"
    return registration.name


async def _parts(
    session: AsyncSession, registration_id: str, facility_code: str, unit_code: str
) -> tuple[Registration, Facility, Unit] | None:
    registration = await session.get(Registration, registration_id)
    facility = await session.get(Facility, facility_code)
    unit = await session.get(Unit, (facility_code, unit_code))
    if registration is None or facility is None or unit is None:
        return None
    return registration, facility, unit


def _when(starts_at: datetime, ends_at: datetime) -> dict[str, str]:
    return {
        "date": _date(starts_at),
        "start_time": _jst(starts_at).strftime("%H:%M"),
        "end_time": _jst(ends_at).strftime("%H:%M"),
    }


async def _send(
    session: AsyncSession,
    template_id: str,
    reservation: Reservation,
    now: datetime,
    **extra: Any,
) -> None:
    parts = await _parts(
        session, reservation.registration_id, reservation.facility_code, reservation.unit_code
    )
    if parts is None:
        return
    registration, facility, unit = parts
    await enqueue_notification(
        session,
        template_id=template_id,
        email_address=registration.email,
        personalisation={
            "name": addressee(registration),
            "reservation_id": reservation.id,
            "facility_name": facility.name_ja,
            "room_name": unit.name_ja,
            **_when(reservation.starts_at, reservation.ends_at),
            **extra,
        },
        reference=reservation.id,
        now=now,
    )


async def confirmed(session: AsyncSession, reservation: Reservation, now: datetime) -> None:
    await _send(
        session, CONFIRMED, reservation, now, fee=f"{reservation.fee:,}", pay_at_counter=False
    )


async def reminder(session: AsyncSession, reservation: Reservation, now: datetime) -> None:
    await _send(session, REMINDER, reservation, now)


async def cancelled(
    session: AsyncSession,
    reservation: Reservation,
    now: datetime,
    *,
    by_facility: bool,
    reason: str = "",
) -> None:
    refund = reservation.refund_amount or 0
    await _send(
        session,
        CANCELLED,
        reservation,
        now,
        by_facility=by_facility,
        reason=f"理由: {reason}" if reason else "",
        refund=f"{refund:,}",
        refund_due=refund > 0,
    )


async def payment_due(
    session: AsyncSession, reservation: Reservation, now: datetime, *, details: str
) -> None:
    method = reservation.payment_method or ""
    deadline = reservation.hold_expires_at or reservation.starts_at
    await _send(
        session,
        PAYMENT_DUE,
        reservation,
        now,
        item="施設使用料",
        amount=f"{reservation.fee:,}",
        due_date=f"{_date(deadline)} {_jst(deadline):%H:%M}",
        payment_method={"konbini": "コンビニ払い", "payeasy": "ペイジー"}.get(method, method),
        payment_details=details,
        konbini=method == "konbini",
        payeasy=method == "payeasy",
    )


async def waitlist_offer(session: AsyncSession, entry: WaitlistEntry, now: datetime) -> None:
    parts = await _parts(session, entry.registration_id, entry.facility_code, entry.unit_code)
    if parts is None or entry.offer_expires_at is None:
        return
    registration, facility, unit = parts
    slot = slot_of(SlotScheme(facility.slot_scheme), entry.slot_code)
    if slot is None:
        return
    starts_at, ends_at = slot_times(entry.day, slot)
    await enqueue_notification(
        session,
        template_id=WAITLIST_OFFER,
        email_address=registration.email,
        personalisation={
            "name": addressee(registration),
            "facility_name": facility.name_ja,
            "room_name": unit.name_ja,
            **_when(starts_at, ends_at),
            "offer_expires_at": f"{_date(entry.offer_expires_at)} "
            f"{_jst(entry.offer_expires_at):%H:%M}",
        },
        reference=entry.id,
        now=now,
    )


async def lottery_result(
    session: AsyncSession,
    entry: LotteryEntry,
    facility: Facility,
    starts_at: datetime,
    ends_at: datetime,
    *,
    won: bool,
    void: bool,
    now: datetime,
) -> None:
    registration = await session.get(Registration, entry.registration_id)
    if registration is None:
        return
    result = "当選" if won else ("施設の都合により無効" if void else "落選")
    await enqueue_notification(
        session,
        template_id=LOTTERY_RESULT,
        email_address=registration.email,
        personalisation={
            "name": addressee(registration),
            "facility_name": facility.name_ja,
            **_when(starts_at, ends_at),
            "result": result,
            "won": won,
        },
        reference=entry.id,
        now=now,
    )
