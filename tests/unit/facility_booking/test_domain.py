"""The pure rules: calendar and pricing, refunds, booking windows, the unit tree and the draw."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from services.facility_booking.domain.booking_rules import (
    HoldTimes,
    Windows,
    hold_deadline,
    window_refusal,
)
from services.facility_booking.domain.calendar_rules import (
    ClosedDays,
    day_type,
    holiday_name,
    month_days,
)
from services.facility_booking.domain.lottery_draw import (
    DrawEntry,
    commitment,
    draw,
    rank,
    verify,
)
from services.facility_booking.domain.pricing import FeeRules, quote, refund_percent
from services.facility_booking.domain.units import leaves
from services.facility_booking.domain.vocabulary import DayType, PaymentMethod, Residency
from services.kit.clock import JST

ARENA = {"full": None, "a": "full", "b": "full", "budo": None}


def test_holidays_weekends_and_the_new_year_break() -> None:
    assert holiday_name(date(2027, 1, 11)) == "成人の日"
    assert day_type(date(2027, 1, 11)) is DayType.HOLIDAY  # a Monday, but a holiday
    assert day_type(date(2027, 1, 9)) is DayType.HOLIDAY  # Saturday
    assert day_type(date(2027, 1, 12)) is DayType.WEEKDAY
    closed = ClosedDays(weekdays=frozenset({0}))
    assert closed.is_closed(date(2026, 12, 29))
    assert closed.is_closed(date(2027, 1, 3))
    assert not closed.is_closed(date(2027, 1, 5))
    assert closed.is_closed(date(2027, 1, 18))  # Monday
    assert month_days("2027-02") == (date(2027, 2, 1), date(2027, 2, 28))


def test_fees_by_residency_day_type_and_reduction() -> None:
    rules = FeeRules({"am": 3000, "*": 1000}, holiday_percent=120, non_resident_percent=200)
    weekday, holiday = date(2027, 1, 12), date(2027, 1, 11)
    assert quote(rules, "am", weekday, Residency.RESIDENT).amount == 3000
    assert quote(rules, "am", holiday, Residency.RESIDENT).amount == 3600
    assert quote(rules, "am", holiday, Residency.NON_RESIDENT).amount == 7200
    assert quote(rules, "night", weekday, Residency.RESIDENT, 50).amount == 500
    assert quote(rules, "night", weekday, Residency.RESIDENT, 100).amount == 0


@pytest.mark.parametrize(("days", "percent"), [(30, 100), (7, 100), (6, 50), (2, 50), (1, 0)])
def test_refund_tiers(days: int, percent: int) -> None:
    assert refund_percent(((7, 100), (2, 50)), days) == percent


def test_booking_windows_and_hold_deadlines() -> None:
    windows = Windows(resident_days=60, non_resident_days=30, closes_hours_before=1)
    now = datetime(2027, 1, 5, 10, tzinfo=JST)
    day = date(2027, 2, 20)  # 46 days ahead
    starts = datetime.combine(day, time(9), JST)
    assert window_refusal(windows, Residency.RESIDENT, day, starts, now) is None
    refusal = window_refusal(windows, Residency.NON_RESIDENT, day, starts, now)
    assert refusal is not None
    assert "2027-01-21" in refusal
    soon = now + timedelta(minutes=30)
    assert window_refusal(windows, Residency.RESIDENT, now.date(), soon, now) is not None
    holds = HoldTimes(card_minutes=15, konbini_days=3)
    assert hold_deadline(PaymentMethod.CARD, holds, now, starts) == now + timedelta(minutes=15)
    slip = hold_deadline(PaymentMethod.KONBINI, holds, now, starts)
    assert slip == datetime(2027, 1, 8, 23, 59, 59, tzinfo=JST)
    assert hold_deadline(PaymentMethod.KONBINI, holds, now, now + timedelta(hours=5)) == (
        now + timedelta(hours=5)
    )


def test_unit_tree() -> None:
    tree = leaves(ARENA)
    assert tree["full"] == {"a", "b"}
    assert tree["a"] == {"a"}
    with pytest.raises(ValueError, match="cycle"):
        leaves({"x": "y", "y": "x"})
    with pytest.raises(ValueError, match="unknown parent"):
        leaves({"x": "nope"})


def test_the_draw_is_a_pure_function_that_respects_the_unit_tree() -> None:
    seed = bytes(range(32))
    entries = [
        DrawEntry(f"ent_{i:02d}", unit, "2027-03-10", "night")
        for i, unit in enumerate(["full", "a", "b", "full", "a", "budo"])
    ]
    tree = leaves(ARENA)
    winners = draw(seed, entries, tree)
    assert winners == draw(seed, list(reversed(entries)), tree)  # order-free but for ties
    assert winners == sorted(winners, key=lambda w: rank(seed, w))
    won_units = [next(e.unit_code for e in entries if e.id == w) for w in winners]
    covered = [leaf for unit in won_units for leaf in tree[unit]]
    assert len(covered) == len(set(covered))
    assert set(covered) == {"a", "b", "budo"}  # every leaf someone asked for is given out
    published = [
        {
            "id": e.id,
            "unit_code": e.unit_code,
            "day": e.day,
            "slot_code": e.slot_code,
            "status": "won" if e.id in winners else "lost",
        }
        for e in entries
    ]
    units = {k: sorted(v) for k, v in tree.items()}
    assert verify(seed.hex(), commitment(seed), units, published).ok
    swapped = [{**p, "status": "lost" if p["status"] == "won" else "won"} for p in published]
    bad = verify(seed.hex(), commitment(seed), units, swapped)
    assert not bad.ok
    assert bad.problems
    assert not verify(seed.hex(), "0" * 64, units, published).ok
    assert not verify(None, commitment(seed), units, published).ok
