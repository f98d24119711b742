"""Usage fees (使用料, fictional amounts): per unit and slot, by residency and day type,
less the 減免 a user was granted; and the tiered refund on cancellation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from services.facility_booking.domain.calendar_rules import day_type
from services.facility_booking.domain.vocabulary import DayType, Residency

DEFAULT_FEE_KEY = "*"


@dataclass(frozen=True, slots=True)
class FeeRules:
    fees: Mapping[str, int]  # slot code (or "*") -> resident weekday fee in yen
    holiday_percent: int  # e.g. 120: holidays cost 1.2×
    non_resident_percent: int  # e.g. 200: 市外 pays double


@dataclass(frozen=True, slots=True)
class Quote:
    base: int
    residency: Residency
    day_type: DayType
    reduction_percent: int
    amount: int


def _round_down_10(yen: int) -> int:
    return yen - yen % 10


def quote(
    rules: FeeRules, slot_code: str, day: date, residency: Residency, reduction_percent: int = 0
) -> Quote:
    base = rules.fees.get(slot_code, rules.fees.get(DEFAULT_FEE_KEY, 0))
    kind = day_type(day)
    amount = base
    if residency is Residency.NON_RESIDENT:
        amount = amount * rules.non_resident_percent // 100
    if kind is DayType.HOLIDAY:
        amount = amount * rules.holiday_percent // 100
    amount = _round_down_10(amount * (100 - reduction_percent) // 100)
    return Quote(base, residency, kind, reduction_percent, amount)


def refund_percent(tiers: Sequence[tuple[int, int]], days_before: int) -> int:
    """`tiers` as `(min days before the use date, percent)`, e.g. ((7, 100), (2, 50)): the
    first tier whose minimum is met, else 0."""
    for min_days, percent in sorted(tiers, reverse=True):
        if days_before >= min_days:
            return percent
    return 0


def refund_amount(paid: int, percent: int) -> int:
    return paid * percent // 100
