from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from services.kit.clock import JST
from services.kit.errors import UnprocessableContent
from services.payments_mock.domain.calendar import (
    add_business_days,
    expiry_for,
    format_deadline_ja,
    is_bank_holiday,
    is_business_day,
)


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        (date(2026, 4, 30), True),  # Thursday
        (date(2026, 5, 2), False),  # Saturday
        (date(2026, 5, 3), False),  # Sunday, 憲法記念日
        (date(2026, 5, 6), False),  # Wednesday, substitute holiday for 5/3
        (date(2026, 5, 7), True),
        (date(2025, 12, 31), False),  # Wednesday, bank closure
        (date(2026, 1, 2), False),  # Friday, bank closure
        (date(2026, 1, 5), True),  # first business day of 2026
        (date(2026, 1, 12), False),  # 成人の日
    ],
)
def test_business_days(d: date, expected: bool) -> None:
    assert is_business_day(d) is expected


def test_bank_holidays_are_the_year_end_closure_only() -> None:
    around_new_year = [date(2025, 12, 28) + timedelta(days=i) for i in range(10)]
    assert [d for d in around_new_year if is_bank_holiday(d)] == [
        date(2025, 12, 31),
        date(2026, 1, 1),
        date(2026, 1, 2),
        date(2026, 1, 3),
    ]


def test_add_business_days_skips_golden_week() -> None:
    # Thu 4/30 -> Fri 5/1, then 5/2-5/6 are weekend and holidays -> Thu 5/7.
    assert add_business_days(date(2026, 4, 30), 1) == date(2026, 5, 1)
    assert add_business_days(date(2026, 4, 30), 2) == date(2026, 5, 7)


def test_add_business_days_skips_the_year_end() -> None:
    assert add_business_days(date(2025, 12, 30), 1) == date(2026, 1, 5)


def test_add_business_days_zero_and_backwards() -> None:
    assert add_business_days(date(2026, 5, 3), 0) == date(2026, 5, 3)
    assert add_business_days(date(2026, 5, 7), -1) == date(2026, 5, 1)


def test_expiry_matches_stripes_monday_example() -> None:
    monday = datetime(2026, 4, 27, 10, 0, tzinfo=JST)
    expires = expiry_for(monday, 2)
    assert expires == datetime(2026, 4, 29, 23, 59, 59, tzinfo=JST)
    assert expires.weekday() == 2  # Wednesday


def test_expiry_counts_from_the_jst_date_not_the_utc_date() -> None:
    # 2026-04-27 16:00 UTC is already Tuesday 01:00 in Japan.
    created = datetime(2026, 4, 27, 16, 0, tzinfo=UTC)
    assert expiry_for(created, 1) == datetime(2026, 4, 29, 23, 59, 59, tzinfo=JST)
    other_zone = created.astimezone(timezone(timedelta(hours=-7)))
    assert expiry_for(other_zone, 1) == expiry_for(created, 1)


@pytest.mark.parametrize("days", [1, 60])
def test_expiry_bounds_accepted(days: int) -> None:
    created = datetime(2026, 1, 1, tzinfo=JST)
    assert expiry_for(created, days).date() == date(2026, 1, 1) + timedelta(days=days)


@pytest.mark.parametrize("days", [0, -3, 61])
def test_expiry_out_of_range_names_the_field(days: int) -> None:
    with pytest.raises(UnprocessableContent) as info:
        expiry_for(datetime(2026, 1, 1, tzinfo=JST), days)
    assert info.value.extensions["errors"][0]["field"] == "expires_after_days"


def test_expiry_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="UTC offset"):
        expiry_for(datetime(2026, 1, 1), 3)


def test_deadline_text_in_japanese() -> None:
    moment = datetime(2026, 4, 30, 14, 59, 59, tzinfo=UTC)
    assert format_deadline_ja(moment) == "2026年4月30日（木）23:59"
