"""Facilities, units, the availability grid, blocks and usage statistics."""

from __future__ import annotations

from datetime import date, datetime, time

from pydantic import BaseModel, ConfigDict, Field

from services.facility_booking.domain.vocabulary import (
    UNIT_CODE_PATTERN,
    CellState,
    DayType,
    Residency,
    SlotScheme,
)
from services.facility_booking.schemas.registrations import ULID
from services.facility_booking.schemas.reservations import FEE_NOTE_JA
from services.kit.pagination import Page

BLOCK_ID_PATTERN = rf"^blk_{ULID}$"
FeeTable = dict[str, int]


class SlotRead(BaseModel):
    code: str
    label_ja: str
    start: time
    end: time


class UnitRead(BaseModel):
    code: str
    name_ja: str
    name_en: str
    kind: str
    capacity: int
    parent_code: str | None
    leaf_codes: list[str] = Field(description="the units a booking of this one occupies")
    equipment: list[str]
    accessibility: list[str]
    fees: FeeTable = Field(description="resident weekday fee per slot code ('*': any), yen")


class RefundTier(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min_days_before: int = Field(ge=0, le=365)
    refund_percent: int = Field(ge=0, le=100)


class FacilityRules(BaseModel):
    """How the facility is booked; staff change these with PATCH."""

    model_config = ConfigDict(extra="forbid")

    holiday_percent: int = Field(ge=0, le=1000)
    non_resident_percent: int = Field(ge=0, le=1000)
    closed_weekdays: list[int] = Field(description="0 = Monday (休館日)", max_length=7)
    closed_new_year: bool = Field(description="closed 29 December to 3 January (年末年始)")
    closed_dates: list[date] = Field(max_length=366)
    resident_window_days: int = Field(ge=0, le=400)
    non_resident_window_days: int = Field(ge=0, le=400)
    booking_closes_hours_before: int = Field(ge=0, le=720)
    cancel_deadline_hours: int = Field(ge=0, le=720)
    refund_tiers: list[RefundTier] = Field(max_length=10)
    late_cancel_days: int = Field(ge=0, le=60)
    late_cancel_limit: int = Field(ge=1, le=100)
    restriction_days: int = Field(ge=0, le=365)
    max_active_per_user: int = Field(ge=1, le=1000)
    card_hold_minutes: int = Field(ge=1, le=1440)
    konbini_hold_days: int = Field(ge=1, le=60)
    counter_hold_days: int = Field(ge=1, le=60)
    waitlist_offer_hours: int = Field(ge=1, le=720)


class FacilityRulesPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    holiday_percent: int | None = Field(None, ge=0, le=1000)
    non_resident_percent: int | None = Field(None, ge=0, le=1000)
    closed_weekdays: list[int] | None = Field(None, max_length=7)
    closed_new_year: bool | None = None
    closed_dates: list[date] | None = Field(None, max_length=366)
    resident_window_days: int | None = Field(None, ge=0, le=400)
    non_resident_window_days: int | None = Field(None, ge=0, le=400)
    booking_closes_hours_before: int | None = Field(None, ge=0, le=720)
    cancel_deadline_hours: int | None = Field(None, ge=0, le=720)
    refund_tiers: list[RefundTier] | None = Field(None, max_length=10)
    late_cancel_days: int | None = Field(None, ge=0, le=60)
    late_cancel_limit: int | None = Field(None, ge=1, le=100)
    restriction_days: int | None = Field(None, ge=0, le=365)
    max_active_per_user: int | None = Field(None, ge=1, le=1000)
    card_hold_minutes: int | None = Field(None, ge=1, le=1440)
    konbini_hold_days: int | None = Field(None, ge=1, le=60)
    counter_hold_days: int | None = Field(None, ge=1, le=60)
    waitlist_offer_hours: int | None = Field(None, ge=1, le=720)


class UnitPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capacity: int | None = Field(None, ge=1, le=100_000)
    equipment: list[str] | None = Field(None, max_length=50)
    accessibility: list[str] | None = Field(None, max_length=50)
    fees: FeeTable | None = Field(None, max_length=20)


class FacilityRead(BaseModel):
    code: str
    name_ja: str
    name_en: str
    kind: str
    district: str
    department: str
    lat: float
    lon: float
    address_ja: str
    description_ja: str
    photo_url: str | None
    photo_alt_ja: str | None
    accessibility: list[str]
    slot_scheme: SlotScheme
    slots: list[SlotRead]
    rules: FacilityRules
    fee_note_ja: str = FEE_NOTE_JA
    units: list[UnitRead]


class FacilityList(Page[FacilityRead]):
    pass


class CellRead(BaseModel):
    slot_code: str
    starts_at: datetime
    ends_at: datetime
    state: CellState
    price: int | None = Field(description="yen the caller would pay (fictional); None if closed")


class DayRead(BaseModel):
    day: date
    day_type: DayType
    holiday_name: str | None = Field(description="the national holiday (祝日), if it is one")
    closed: bool
    cells: list[CellRead]


class AvailabilityRead(BaseModel):
    facility_code: str
    unit_code: str
    residency: Residency = Field(description="the rate the prices use (the caller's, or 市内)")
    reduction_percent: int
    days: list[DayRead]


class BlockCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_code: str = Field(pattern=UNIT_CODE_PATTERN)
    day_from: date
    day_to: date
    slot_codes: list[str] | None = Field(
        None, max_length=24, description="default: every slot of the day"
    )
    reason_ja: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    cancel_reservations: bool = Field(
        False, description="cancel reservations in the way (full refund, notice) instead of a 409"
    )


class BlockRead(BaseModel):
    id: str
    facility_code: str
    unit_code: str
    day_from: date
    day_to: date
    slot_codes: list[str]
    reason_ja: str
    created_at: datetime
    released_at: datetime | None
    cancelled_reservations: list[str] = Field(
        default_factory=list, description="the reservations cancelled when the block was made"
    )


class BlockList(Page[BlockRead]):
    pass


class UnitUsage(BaseModel):
    unit_code: str
    open_slots: int = Field(description="slots on open days, less blocked ones")
    booked_slots: int
    blocked_slots: int
    occupancy_rate: float = Field(description="稼働率: booked / open slots")


class UsageRead(BaseModel):
    facility_code: str
    day_from: date
    day_to: date
    units: list[UnitUsage]
    facility_rate: float


class DaySheetEntry(BaseModel):
    reservation_id: str
    unit_code: str
    slot_code: str
    starts_at: datetime
    status: str
    user_number: str
    name: str
    group_name: str | None
    attendees: int | None
    purpose: str
    fee: int
    paid_amount: int


class DaySheet(BaseModel):
    facility_code: str
    day: date
    entries: list[DaySheetEntry]
