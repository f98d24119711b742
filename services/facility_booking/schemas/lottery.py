"""Lottery rounds (抽選) and their entries: requests and responses."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from services.facility_booking.domain.lifecycles import EntryState, RoundState
from services.facility_booking.domain.vocabulary import (
    FACILITY_CODE_PATTERN,
    UNIT_CODE_PATTERN,
    PaymentMethod,
)
from services.facility_booking.schemas.registrations import ULID
from services.facility_booking.schemas.reservations import SLOT_CODE_PATTERN
from services.kit.pagination import Page

ROUND_ID_PATTERN = rf"^lot_{ULID}$"
ENTRY_ID_PATTERN = rf"^ent_{ULID}$"

DRAW_RULE = (
    "rank(entry) = sha256(seed || ':' || entry.id) as hex; ties (a hash collision) keep the "
    "published order (entry id ascending). In rank order an entry wins when none of the leaf "
    "units of its unit (units[unit_code]) is taken in its day and slot by an earlier winner. "
    "The draw uses every entry not withdrawn; winners are the entries whose status is won, "
    "confirmed, released or void. sha256(seed) must equal the commitment."
)


class RoundCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    facility_code: str = Field(pattern=FACILITY_CODE_PATTERN)
    target_month: str = Field(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", description="YYYY-MM")
    title_ja: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")
    unit_codes: list[str] = Field(
        default_factory=list, max_length=50, description="default: every unit of the facility"
    )
    opens_at: datetime
    closes_at: datetime
    draw_at: datetime
    confirm_by: datetime = Field(description="winners confirm (and pay) by then")
    first_come_opens_at: datetime = Field(description="the remaining slots open first-come")
    max_entries_per_user: int = Field(3, ge=1, le=50)


class RoundRead(BaseModel):
    id: str
    facility_code: str
    target_month: str
    title_ja: str
    unit_codes: list[str]
    units: dict[str, list[str]] = Field(description="unit code -> the leaf units it occupies")
    opens_at: datetime
    closes_at: datetime
    draw_at: datetime
    confirm_by: datetime
    first_come_opens_at: datetime
    max_entries_per_user: int
    status: RoundState
    accepting_entries: bool
    commitment: str = Field(description="sha256(seed), published from the moment it opens")
    seed: str | None = Field(description="hex, revealed by the draw")
    drawn_at: datetime | None
    entry_count: int
    draw_rule: str = DRAW_RULE


class RoundList(Page[RoundRead]):
    pass


class EntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_code: str = Field(pattern=UNIT_CODE_PATTERN)
    day: date
    slot_code: str = Field(pattern=SLOT_CODE_PATTERN)


class PublicEntry(BaseModel):
    """What everyone sees of an entry (never who entered)."""

    id: str
    unit_code: str
    day: date
    slot_code: str
    status: EntryState


class PublicEntryList(Page[PublicEntry]):
    pass


class EntryRead(PublicEntry):
    round_id: str
    reservation_id: str | None
    confirm_by: datetime | None
    created_at: datetime


class EntryList(Page[EntryRead]):
    pass


class EntryConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payment_method: PaymentMethod | None = None
