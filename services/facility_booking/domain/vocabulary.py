"""The words of facility booking, declared once: schemas and routes derive from these."""

from __future__ import annotations

from enum import StrEnum


class SlotScheme(StrEnum):
    PERIODS = "periods"  # 区分: 午前 9–12, 午後 13–17, 夜間 18–21
    HOURLY = "hourly"  # 1時間単位 (courts), 9:00–21:00


class Residency(StrEnum):
    RESIDENT = "resident"  # 市内 (living, working or studying in the city)
    NON_RESIDENT = "non_resident"  # 市外


class ResidencyBasis(StrEnum):
    LIVING = "living"  # 在住
    WORKING = "working"  # 在勤
    STUDYING = "studying"  # 在学


class ApplicantType(StrEnum):
    INDIVIDUAL = "individual"
    GROUP = "group"  # 団体: representative and member count


class DayType(StrEnum):
    WEEKDAY = "weekday"
    HOLIDAY = "holiday"  # Saturdays, Sundays and national holidays (jpholiday)


class PaymentMethod(StrEnum):
    CARD = "card"
    KONBINI = "konbini"
    PAYEASY = "payeasy"
    COUNTER = "counter"  # 窓口: paid at the facility's counter, confirmed by staff


class CellState(StrEnum):
    """What the availability grid says about one unit in one slot."""

    FREE = "free"
    HELD = "held"  # 仮予約 (payment pending) or a waitlist offer
    BOOKED = "booked"
    LOTTERY = "lottery"  # inside an open lottery round: enter it instead
    BLOCKED = "blocked"  # maintenance, city events
    CLOSED = "closed"  # 休館日, 年末年始
    UNAVAILABLE = "unavailable"  # past, or outside the caller's booking window


class HolderKind(StrEnum):
    """Who holds an occupancy row."""

    RESERVATION = "reservation"
    BLOCK = "block"
    LOTTERY_WIN = "lottery_win"
    WAITLIST_OFFER = "waitlist_offer"


class Reduction(StrEnum):
    """減免 categories staff may grant a registered user; the percent is off the fee."""

    NONE = "none"
    DISABILITY_GROUP = "disability_group"  # 障害者団体: 100 %
    CHILDREN_GROUP = "children_group"  # 子ども会・青少年団体: 50 %
    SENIOR_GROUP = "senior_group"  # 高齢者クラブ: 50 %
    PUBLIC_INTEREST = "public_interest"  # 市の共催・公益活動: 100 %


REDUCTION_PERCENT: dict[Reduction, int] = {
    Reduction.NONE: 0,
    Reduction.DISABILITY_GROUP: 100,
    Reduction.CHILDREN_GROUP: 50,
    Reduction.SENIOR_GROUP: 50,
    Reduction.PUBLIC_INTEREST: 100,
}

REDUCTION_LABEL_JA: dict[Reduction, str] = {
    Reduction.NONE: "減免なし",
    Reduction.DISABILITY_GROUP: "障害者団体（全額免除）",
    Reduction.CHILDREN_GROUP: "子ども会・青少年団体（5割減額）",
    Reduction.SENIOR_GROUP: "高齢者クラブ（5割減額）",
    Reduction.PUBLIC_INTEREST: "市の共催・公益活動（全額免除）",
}

UNIT_CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
FACILITY_CODE_PATTERN = UNIT_CODE_PATTERN
