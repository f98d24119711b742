"""Japanese banking days and payment deadlines.

Banks are closed on weekends, on national holidays (`jpholiday`, which also knows substitute
holidays) and from 31 December to 3 January (銀行の休日, 銀行法施行令 第5条), so settlement (確報)
dates count only the other days.

Deadlines follow Stripe's `expires_after_days` for konbini: "if a PaymentIntent is confirmed
with Konbini and expires_after_days set to 2 on Monday JST, the instructions will expire on
Wednesday 23:59:59 JST" (Stripe API reference, PaymentIntent payment_method_options.konbini),
with 1 to 60 calendar days allowed. So day 1 is the day after creation, counted in JST.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import jpholiday

from services.kit.clock import JST
from services.kit.errors import UnprocessableContent

MIN_EXPIRY_DAYS = 1
MAX_EXPIRY_DAYS = 60
DEFAULT_EXPIRY_DAYS = 3
_LAST_SECOND = time(23, 59, 59)
NOTICE_HOUR = time(9, 0)  # 確報 and refund transfers land at 09:00 JST on a business day


def is_bank_holiday(d: date) -> bool:
    """The year-end closure, 31 December to 3 January."""
    return (d.month == 12 and d.day == 31) or (d.month == 1 and d.day <= 3)


def is_business_day(d: date) -> bool:
    return d.weekday() < 5 and not jpholiday.is_holiday(d) and not is_bank_holiday(d)


def add_business_days(d: date, n: int) -> date:
    """The n-th business day after `d` (before it when n < 0); n == 0 returns `d` unchanged."""
    step = timedelta(days=1 if n >= 0 else -1)
    remaining = abs(n)
    current = d
    while remaining:
        current += step
        if is_business_day(current):
            remaining -= 1
    return current


def expiry_for(created: datetime, days: int) -> datetime:
    """23:59:59 JST on the `days`-th calendar day after the JST date of `created`."""
    if created.tzinfo is None:
        raise ValueError("created must carry a UTC offset")
    if not MIN_EXPIRY_DAYS <= days <= MAX_EXPIRY_DAYS:
        raise UnprocessableContent(
            f"expires_after_days must be between {MIN_EXPIRY_DAYS} and {MAX_EXPIRY_DAYS}",
            field="expires_after_days",
        )
    last_day = created.astimezone(JST).date() + timedelta(days=days)
    return datetime.combine(last_day, _LAST_SECOND, tzinfo=JST)


def check_era(value: date | datetime | None, field: str) -> None:
    """Dates from 2000 to 2099 only (the barcode's YYMMDD), which also keeps time-zone
    arithmetic away from datetime's limits."""
    if value is not None and not 2000 <= value.year <= 2099:
        raise UnprocessableContent(f"{field} must fall in the years 2000-2099", field=field)


def at_notice_hour(day: date) -> datetime:
    return datetime.combine(day, NOTICE_HOUR, tzinfo=JST)


def business_days_later(moment: datetime, days: int) -> datetime:
    return at_notice_hour(add_business_days(moment.astimezone(JST).date(), days))


def expiry(
    expires_at: date | datetime | None, expires_after_days: int | None, now: datetime
) -> datetime:
    """A payment's deadline: `expires_after_days` (default 3) or the last day `expires_at`
    (a date, or a datetime with offset whose JST date counts), at 23:59:59 JST."""
    if expires_at is not None and expires_after_days is not None:
        raise UnprocessableContent(
            "give expires_after_days or expires_at, not both", field="expires_at"
        )
    if expires_at is None:
        return expiry_for(now, expires_after_days or DEFAULT_EXPIRY_DAYS)
    raw = expires_at
    check_era(raw, "expires_at")
    if isinstance(raw, datetime) and raw.tzinfo is None and raw.time() == time(0):
        raw = raw.date()  # a plain YYYY-MM-DD (pydantic reads it as a naive midnight)
    if isinstance(raw, datetime):
        if raw.tzinfo is None:
            raise UnprocessableContent("expires_at needs a UTC offset", field="expires_at")
        last_day = raw.astimezone(JST).date()
    else:
        last_day = raw
    today = now.astimezone(JST).date()
    days = (last_day - today).days
    if not 0 <= days <= MAX_EXPIRY_DAYS:
        raise UnprocessableContent(
            f"expires_at must fall between today and {MAX_EXPIRY_DAYS} days from today (JST)",
            field="expires_at",
        )
    return datetime.combine(last_day, _LAST_SECOND, tzinfo=JST)


_WEEKDAYS_JA = "月火水木金土日"


def format_deadline_ja(moment: datetime) -> str:
    """How a slip prints a deadline, e.g. 2026年4月30日（木）23:59."""
    jst = moment.astimezone(JST)
    weekday = _WEEKDAYS_JA[jst.weekday()]
    return f"{jst.year}年{jst.month}月{jst.day}日（{weekday}）{jst:%H:%M}"
