"""Reservations, series and the waitlist: requests and responses."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.facility_booking.domain.lifecycles import ReservationState, WaitState
from services.facility_booking.domain.vocabulary import (
    FACILITY_CODE_PATTERN,
    UNIT_CODE_PATTERN,
    DayType,
    PaymentMethod,
    Residency,
)
from services.facility_booking.schemas.registrations import ULID
from services.kit.pagination import Page

RESERVATION_ID_PATTERN = rf"^rsv_{ULID}$"
SERIES_ID_PATTERN = rf"^ser_{ULID}$"
WAIT_ID_PATTERN = rf"^wl_{ULID}$"
SLOT_CODE_PATTERN = r"^[a-z0-9]{1,16}$"
FEE_NOTE_JA = "金額は架空のものです（デモ市）。"
Text = Field("", max_length=200, pattern=r"^[^\x00-\x08\x0b-\x1f\x7f]*$")


class CellRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facility_code: str = Field(pattern=FACILITY_CODE_PATTERN)
    unit_code: str = Field(pattern=UNIT_CODE_PATTERN)
    day: date
    slot_code: str = Field(pattern=SLOT_CODE_PATTERN)


class ReservationCreate(CellRef):
    payment_method: PaymentMethod | None = Field(
        None, description="needed when a fee is due; a free booking is confirmed at once"
    )
    purpose: str = Text
    attendees: int | None = Field(None, ge=1, le=100_000)


class SeriesCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facility_code: str = Field(pattern=FACILITY_CODE_PATTERN)
    unit_code: str = Field(pattern=UNIT_CODE_PATTERN)
    first_day: date
    slot_code: str = Field(pattern=SLOT_CODE_PATTERN)
    weeks: int = Field(ge=2, le=26, description="how many weeks in a row, same weekday")
    payment_method: PaymentMethod | None = None
    purpose: str = Text
    attendees: int | None = Field(None, ge=1, le=100_000)


class FeeRead(BaseModel):
    amount: int = Field(description="yen due (fictional)")
    base: int
    residency: Residency
    day_type: DayType
    reduction_percent: int
    note_ja: str = FEE_NOTE_JA


class ReservationRead(BaseModel):
    id: str
    status: ReservationState
    facility_code: str
    unit_code: str
    day: date
    slot_code: str
    starts_at: datetime
    ends_at: datetime
    fee: FeeRead
    payment_method: PaymentMethod | None
    payment_id: str | None
    payment_details: dict[str, Any] = Field(
        description="from payments_mock: konbini stores and voucher, Pay-easy numbers, card"
    )
    paid_amount: int
    hold_expires_at: datetime | None
    series_id: str | None
    lottery_entry_id: str | None
    purpose: str
    attendees: int | None
    refund_percent: int | None
    refund_amount: int | None
    allowed_transitions: list[str]
    created_at: datetime
    updated_at: datetime
    cancelled_at: datetime | None


class ReservationList(Page[ReservationRead]):
    pass


class ReservationEventRead(BaseModel):
    id: int
    at: datetime
    transition: str
    from_state: str | None
    to_state: str
    actor: str | None
    note: str | None


class ReservationEventList(Page[ReservationEventRead]):
    pass


class CancelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Text


class FacilityCancelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason_ja: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")


class SkippedDay(BaseModel):
    day: date
    reason: str


class SeriesRead(BaseModel):
    id: str
    facility_code: str
    unit_code: str
    slot_code: str
    first_day: date
    weeks: int
    reservations: list[ReservationRead]
    skipped: list[SkippedDay]


class WaitCreate(CellRef):
    pass


class WaitRead(BaseModel):
    id: str
    status: WaitState
    facility_code: str
    unit_code: str
    day: date
    slot_code: str
    position: int | None = Field(description="1 = next to be offered; None once not waiting")
    offer_expires_at: datetime | None
    reservation_id: str | None
    created_at: datetime


class WaitList(Page[WaitRead]):
    pass


class CardPaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    card_number: str = Field(
        pattern=r"^[0-9]{13,19}$",
        description="a test card of payments_mock (e.g. 4242424242424242)",
    )


class WaitAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_method: PaymentMethod | None = None
