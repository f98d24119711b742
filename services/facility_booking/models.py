"""Tables of facility_booking.

No double booking lives in `occupancy`: one row per leaf unit, day and slot under a unique
index, inserted in the same transaction as the reservation, block, lottery win or waitlist
offer that holds it, and deleted when that holder lets go.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Float, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.kit.sqltypes import JSONType, UTCDateTime


def _json(default: Any = None) -> Any:
    factory = (lambda: dict(default)) if isinstance(default, dict) else list
    return Field(default_factory=factory, sa_column=Column(JSONType, nullable=False))


def _when(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Facility(SQLModel, table=True):
    """A building (公民館, 体育館, 文化センター...) and the rules its units are booked by."""

    __tablename__ = "facilities"

    code: str = Field(primary_key=True, max_length=64)
    name_ja: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    kind: str = Field(max_length=32, index=True)
    district: str = Field(max_length=32, index=True)
    department: str = Field(max_length=64, index=True)
    lat: float = Field(sa_column=Column(Float, nullable=False))
    lon: float = Field(sa_column=Column(Float, nullable=False))
    address_ja: str = Field(default="", max_length=300)
    description_ja: str = Field(default="", sa_column=Column(Text, nullable=False))
    photo_url: str | None = Field(default=None, max_length=500)
    photo_alt_ja: str | None = Field(default=None, max_length=300)
    accessibility: list[str] = _json()
    slot_scheme: str = Field(default="periods", max_length=16)
    holiday_percent: int = 100
    non_resident_percent: int = 150
    closed_weekdays: list[int] = _json()
    closed_new_year: bool = True
    closed_dates: list[str] = _json()
    resident_window_days: int = 60
    non_resident_window_days: int = 30
    booking_closes_hours_before: int = 1
    cancel_deadline_hours: int = 24
    refund_tiers: list[list[int]] = _json()
    late_cancel_days: int = 2
    late_cancel_limit: int = 3
    restriction_days: int = 30
    max_active_per_user: int = 4
    card_hold_minutes: int = 15
    konbini_hold_days: int = 3
    counter_hold_days: int = 7
    waitlist_offer_hours: int = 24
    # The latest first-come opening of the facility's lottery rounds, raised in the
    # transaction that opens a round: a booking after it needs no look at the rounds.
    lottery_until: datetime | None = _when(nullable=True)


class Unit(SQLModel, table=True):
    """A bookable unit (会議室, アリーナ全面, its 半面, テニスコート...); a unit with children
    occupies all of them."""

    __tablename__ = "units"

    facility_code: str = Field(
        primary_key=True, max_length=64, foreign_key="facilities.code", ondelete="CASCADE"
    )
    code: str = Field(primary_key=True, max_length=64)
    name_ja: str = Field(max_length=200)
    name_en: str = Field(default="", max_length=200)
    kind: str = Field(max_length=32)
    capacity: int
    parent_code: str | None = Field(default=None, max_length=64)
    sort_order: int = 0
    equipment: list[str] = _json()
    accessibility: list[str] = _json()
    fees: dict[str, int] = _json({})


class Occupancy(SQLModel, table=True):
    __tablename__ = "occupancy"
    __table_args__ = (
        UniqueConstraint(
            "facility_code", "unit_code", "day", "slot_code", name="uq_occupancy_cell"
        ),
        Index("ix_occupancy_holder", "holder_id"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    facility_code: str = Field(max_length=64)
    unit_code: str = Field(max_length=64)  # always a leaf
    day: date
    slot_code: str = Field(max_length=16)
    holder_kind: str = Field(max_length=24)
    holder_id: str = Field(max_length=64)


class Block(SQLModel, table=True):
    """Staff block slots (maintenance, city events) through occupancy rows."""

    __tablename__ = "blocks"

    id: str = Field(primary_key=True, max_length=64)
    facility_code: str = Field(max_length=64, index=True)
    unit_code: str = Field(max_length=64)
    day_from: date
    day_to: date
    slot_codes: list[str] = _json()
    reason_ja: str = Field(max_length=200)
    created_by: str = Field(max_length=128)
    created_at: datetime = _when()
    released_at: datetime | None = _when(nullable=True)
    cancelled_reservations: list[str] = _json()  # the reservations its creation cancelled


class Registration(SQLModel, table=True):
    """利用者登録: only approved users book."""

    __tablename__ = "registrations"

    id: str = Field(primary_key=True, max_length=64)
    subject: str = Field(max_length=128, unique=True)
    user_number: str = Field(max_length=16, unique=True)
    applicant_type: str = Field(max_length=16)
    name: str = Field(max_length=100)
    group_name: str | None = Field(default=None, max_length=100)
    representative_name: str | None = Field(default=None, max_length=100)
    member_count: int | None = None
    residency: str = Field(max_length=16)
    residency_basis: str | None = Field(default=None, max_length=16)
    email: str = Field(max_length=254)
    phone: str | None = Field(default=None, max_length=20)
    status: str = Field(max_length=16, index=True)
    identity_verified: bool = False  # acr=jpki at registration
    reduction: str = Field(default="none", max_length=32)
    reduction_granted_by: str | None = Field(default=None, max_length=128)
    decided_by: str | None = Field(default=None, max_length=128)
    decided_at: datetime | None = _when(nullable=True)
    decision_note: str | None = Field(default=None, max_length=500)
    restricted_until: datetime | None = _when(nullable=True)
    calendar_token_hash: str | None = Field(default=None, max_length=64, unique=True)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Counter(SQLModel, table=True):
    """Named sequences (user numbers) that work alike on SQLite and PostgreSQL."""

    __tablename__ = "counters"

    name: str = Field(primary_key=True, max_length=32)
    value: int = 0


class ActiveCount(SQLModel, table=True):
    """A user's active reservations at a facility, raised by a conditional UPDATE that
    refuses to pass the facility's maximum."""

    __tablename__ = "active_counts"

    registration_id: str = Field(primary_key=True, max_length=64)
    facility_code: str = Field(primary_key=True, max_length=64)
    count: int = 0


class Series(SQLModel, table=True):
    """A weekly series booked and cancelled as one group."""

    __tablename__ = "series"

    id: str = Field(primary_key=True, max_length=64)
    subject: str = Field(max_length=128, index=True)
    facility_code: str = Field(max_length=64)
    unit_code: str = Field(max_length=64)
    slot_code: str = Field(max_length=16)
    first_day: date
    weeks: int
    skipped: list[dict[str, str]] = _json()
    created_at: datetime = _when()


class Reservation(SQLModel, table=True):
    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_facility_day", "facility_code", "day"),)

    id: str = Field(primary_key=True, max_length=64)
    registration_id: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=128, index=True)
    facility_code: str = Field(max_length=64)
    unit_code: str = Field(max_length=64)
    day: date
    slot_code: str = Field(max_length=16)
    starts_at: datetime = _when()
    ends_at: datetime = _when()
    status: str = Field(max_length=32, index=True)
    base_fee: int
    fee: int
    residency: str = Field(max_length=16)
    day_type: str = Field(max_length=16)
    reduction_percent: int = 0
    payment_method: str | None = Field(default=None, max_length=16)
    payment_id: str | None = Field(default=None, max_length=64, index=True)
    payment_details: dict[str, Any] = _json({})  # konbini / Pay-easy instructions to show
    paid_amount: int = 0
    hold_expires_at: datetime | None = _when(nullable=True, index=True)
    series_id: str | None = Field(default=None, max_length=64, index=True)
    lottery_entry_id: str | None = Field(default=None, max_length=64)
    purpose: str = Field(default="", max_length=200)
    attendees: int | None = None
    refund_percent: int | None = None
    refund_amount: int | None = None
    late_cancellation: bool = False
    reminded_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when()
    updated_at: datetime = _when()
    cancelled_at: datetime | None = _when(nullable=True)


class ReservationEvent(SQLModel, table=True):
    """The append-only history of a reservation's transitions."""

    __tablename__ = "reservation_events"

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    reservation_id: str = Field(max_length=64, index=True)
    at: datetime = _when()
    transition: str = Field(max_length=32)
    from_state: str | None = Field(default=None, max_length=32)
    to_state: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=128)
    note: str | None = Field(default=None, max_length=500)


class LotteryRound(SQLModel, table=True):
    __tablename__ = "lottery_rounds"
    __table_args__ = (
        UniqueConstraint("facility_code", "target_month", name="uq_round_facility_month"),
    )

    id: str = Field(primary_key=True, max_length=64)
    facility_code: str = Field(max_length=64, index=True)
    target_month: str = Field(max_length=7)
    title_ja: str = Field(max_length=200)
    unit_codes: list[str] = _json()
    opens_at: datetime = _when()
    closes_at: datetime = _when()
    draw_at: datetime = _when()
    confirm_by: datetime = _when()
    first_come_opens_at: datetime = _when()
    max_entries_per_user: int
    seed_hex: str = Field(max_length=64)  # secret until the draw
    commitment: str = Field(max_length=64)
    status: str = Field(max_length=16, index=True)
    drawn_at: datetime | None = _when(nullable=True)
    created_by: str = Field(max_length=128)
    created_at: datetime = _when()


class LotteryEntry(SQLModel, table=True):
    __tablename__ = "lottery_entries"
    __table_args__ = (
        UniqueConstraint(
            "round_id", "subject", "unit_code", "day", "slot_code", name="uq_entry_once"
        ),
        UniqueConstraint("round_id", "subject", "user_entry_no", name="uq_entry_quota"),
    )

    id: str = Field(primary_key=True, max_length=64)
    round_id: str = Field(max_length=64, index=True)
    subject: str = Field(max_length=128, index=True)
    registration_id: str = Field(max_length=64)
    user_entry_no: int  # 1..max_entries_per_user: the quota, enforced by the unique index
    unit_code: str = Field(max_length=64)
    day: date
    slot_code: str = Field(max_length=16)
    status: str = Field(max_length=16)
    reservation_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = _when()


class WaitlistEntry(SQLModel, table=True):
    """キャンセル待ち: the first waiting user is offered a freed slot until a deadline."""

    __tablename__ = "waitlist"
    __table_args__ = (Index("ix_waitlist_cell", "facility_code", "unit_code", "day", "slot_code"),)

    id: str = Field(primary_key=True, max_length=64)
    subject: str = Field(max_length=128, index=True)
    registration_id: str = Field(max_length=64)
    facility_code: str = Field(max_length=64)
    unit_code: str = Field(max_length=64)
    day: date
    slot_code: str = Field(max_length=16)
    status: str = Field(max_length=16)
    offer_expires_at: datetime | None = _when(nullable=True, index=True)
    reservation_id: str | None = Field(default=None, max_length=64)
    created_at: datetime = _when()
