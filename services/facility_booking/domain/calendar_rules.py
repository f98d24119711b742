"""Dates and slots of a facility: 区分 or hours, holidays (jpholiday), closed days, in JST."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import jpholiday

from services.facility_booking.domain.vocabulary import DayType, SlotScheme
from services.kit.clock import JST


@dataclass(frozen=True, slots=True)
class Slot:
    code: str
    label_ja: str
    start: time
    end: time


PERIOD_SLOTS: tuple[Slot, ...] = (
    Slot("am", "午前", time(9), time(12)),
    Slot("pm", "午後", time(13), time(17)),
    Slot("night", "夜間", time(18), time(21)),
)
HOURLY_SLOTS: tuple[Slot, ...] = tuple(
    Slot(f"h{h:02d}", f"{h}時〜{h + 1}時", time(h), time(h + 1)) for h in range(9, 21)
)
_SCHEMES: dict[SlotScheme, tuple[Slot, ...]] = {
    SlotScheme.PERIODS: PERIOD_SLOTS,
    SlotScheme.HOURLY: HOURLY_SLOTS,
}


def slots_of(scheme: SlotScheme) -> tuple[Slot, ...]:
    return _SCHEMES[scheme]


def slot_of(scheme: SlotScheme, code: str) -> Slot | None:
    return next((s for s in _SCHEMES[scheme] if s.code == code), None)


def slot_times(day: date, slot: Slot) -> tuple[datetime, datetime]:
    """Start and end of `slot` on `day`, aware (JST)."""
    return (datetime.combine(day, slot.start, JST), datetime.combine(day, slot.end, JST))


def is_holiday(day: date) -> bool:
    return day.weekday() >= 5 or bool(jpholiday.is_holiday(day))


def day_type(day: date) -> DayType:
    return DayType.HOLIDAY if is_holiday(day) else DayType.WEEKDAY


def is_new_year_break(day: date) -> bool:
    """年末年始: 29 December to 3 January."""
    return (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3)


@dataclass(frozen=True, slots=True)
class ClosedDays:
    weekdays: frozenset[int]  # 0 = Monday (休館日)
    new_year_break: bool = True
    dates: frozenset[date] = frozenset()

    def is_closed(self, day: date) -> bool:
        return (
            day.weekday() in self.weekdays
            or (self.new_year_break and is_new_year_break(day))
            or day in self.dates
        )


def days(start: date, end: date) -> Iterable[date]:
    """Every day from `start` to `end`, both included."""
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def month_days(month: str) -> tuple[date, date]:
    """First and last day of `YYYY-MM`."""
    first = date.fromisoformat(f"{month}-01")
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first, following - timedelta(days=1)


def weekly(first: date, weeks: int) -> Sequence[date]:
    return [first + timedelta(weeks=i) for i in range(weeks)]
