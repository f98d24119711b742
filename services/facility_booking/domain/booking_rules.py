"""Who may book which slot when: booking windows by residency, cancellation deadlines and
the late-cancellation restriction. Plain functions of the facility's rules and the time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from services.facility_booking.domain.vocabulary import PaymentMethod, Residency
from services.kit.clock import JST


@dataclass(frozen=True, slots=True)
class Windows:
    resident_days: int  # residents book this many days ahead
    non_resident_days: int  # 市外: fewer
    closes_hours_before: int  # no new booking this close to the start

    def opens_for(self, residency: Residency, day: date) -> date:
        """The first date (JST) on which `day` may be booked."""
        ahead = self.resident_days if residency is Residency.RESIDENT else self.non_resident_days
        return day - timedelta(days=ahead)


def window_refusal(
    windows: Windows, residency: Residency, day: date, starts_at: datetime, now: datetime
) -> str | None:
    """Why a slot cannot be booked now, or None when its window is open."""
    if now >= starts_at - timedelta(hours=windows.closes_hours_before):
        return "this slot is past or too close to its start to book online"
    opens = windows.opens_for(residency, day)
    if now.astimezone(JST).date() < opens:
        return f"booking for this date opens on {opens.isoformat()} for {residency.value} users"
    return None


@dataclass(frozen=True, slots=True)
class HoldTimes:
    card_minutes: int = 15  # Varaamo 10, respa 15
    konbini_days: int = 3  # 仮予約: pay at the store within days
    counter_days: int = 7  # pay at the facility's counter


def hold_deadline(
    method: PaymentMethod, holds: HoldTimes, now: datetime, starts_at: datetime
) -> datetime:
    """When an unpaid hold expires: minutes for a card, days for a slip, never after the
    slot's start."""
    if method is PaymentMethod.CARD:
        deadline = now + timedelta(minutes=holds.card_minutes)
    elif method is PaymentMethod.COUNTER:
        deadline = now + timedelta(days=holds.counter_days)
    else:  # a slip is good until 23:59:59 JST of its last day, as at the store
        last_day = (now.astimezone(JST) + timedelta(days=holds.konbini_days)).date()
        deadline = datetime.combine(last_day, time(23, 59, 59), JST)
    return min(deadline, starts_at)


def days_before(day: date, now: datetime) -> int:
    return (day - now.astimezone(JST).date()).days


def is_late_cancellation(day: date, now: datetime, late_days: int) -> bool:
    return days_before(day, now) < late_days
