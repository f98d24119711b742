"""units, occupancy, registrations, reservations, lottery, waitlist

The 0001 tables held only seed data (re-seeded idempotently), so they are rebuilt.

Revision ID: facility_booking_0002
Revises: facility_booking_0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.kit.sqltypes import JSONType, UTCDateTime

revision: str = "facility_booking_0002"
down_revision: str | None = "facility_booking_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _s(name: str, length: int, **kw: object) -> sa.Column:
    return sa.Column(name, sa.String(length), nullable=kw.pop("nullable", False), **kw)


def _i(name: str, **kw: object) -> sa.Column:
    return sa.Column(name, sa.Integer, nullable=kw.pop("nullable", False), **kw)


def _t(name: str, nullable: bool = False, **kw: object) -> sa.Column:
    return sa.Column(name, UTCDateTime(), nullable=nullable, **kw)


def _j(name: str) -> sa.Column:
    return sa.Column(name, JSONType, nullable=False)


def upgrade() -> None:
    op.drop_table("rooms")
    op.drop_table("facilities")
    op.create_table(
        "facilities",
        _s("code", 64, primary_key=True),
        _s("name_ja", 200),
        _s("name_en", 200),
        _s("kind", 32, index=True),
        _s("district", 32, index=True),
        _s("department", 64, index=True),
        sa.Column("lat", sa.Float, nullable=False),
        sa.Column("lon", sa.Float, nullable=False),
        _s("address_ja", 300),
        sa.Column("description_ja", sa.Text, nullable=False),
        _s("photo_url", 500, nullable=True),
        _s("photo_alt_ja", 300, nullable=True),
        _j("accessibility"),
        _s("slot_scheme", 16),
        _i("holiday_percent"),
        _i("non_resident_percent"),
        _j("closed_weekdays"),
        sa.Column("closed_new_year", sa.Boolean, nullable=False),
        _j("closed_dates"),
        _i("resident_window_days"),
        _i("non_resident_window_days"),
        _i("booking_closes_hours_before"),
        _i("cancel_deadline_hours"),
        _j("refund_tiers"),
        _i("late_cancel_days"),
        _i("late_cancel_limit"),
        _i("restriction_days"),
        _i("max_active_per_user"),
        _i("card_hold_minutes"),
        _i("konbini_hold_days"),
        _i("counter_hold_days"),
        _i("waitlist_offer_hours"),
    )
    op.create_table(
        "units",
        sa.Column(
            "facility_code",
            sa.String(64),
            sa.ForeignKey("facilities.code", ondelete="CASCADE"),
            primary_key=True,
        ),
        _s("code", 64, primary_key=True),
        _s("name_ja", 200),
        _s("name_en", 200),
        _s("kind", 32),
        _i("capacity"),
        _s("parent_code", 64, nullable=True),
        _i("sort_order"),
        _j("equipment"),
        _j("accessibility"),
        _j("fees"),
    )
    op.create_table(
        "occupancy",
        sa.Column("id", sa.Integer, primary_key=True),
        _s("facility_code", 64),
        _s("unit_code", 64),
        sa.Column("day", sa.Date, nullable=False),
        _s("slot_code", 16),
        _s("holder_kind", 24),
        _s("holder_id", 64),
        sa.UniqueConstraint(
            "facility_code", "unit_code", "day", "slot_code", name="uq_occupancy_cell"
        ),
    )
    op.create_index("ix_occupancy_holder", "occupancy", ["holder_id"])
    op.create_table(
        "blocks",
        _s("id", 64, primary_key=True),
        _s("facility_code", 64, index=True),
        _s("unit_code", 64),
        sa.Column("day_from", sa.Date, nullable=False),
        sa.Column("day_to", sa.Date, nullable=False),
        _j("slot_codes"),
        _s("reason_ja", 200),
        _s("created_by", 128),
        _t("created_at"),
        _t("released_at", nullable=True),
    )
    op.create_table(
        "registrations",
        _s("id", 64, primary_key=True),
        _s("subject", 128, unique=True),
        _s("user_number", 16, unique=True),
        _s("applicant_type", 16),
        _s("name", 100),
        _s("group_name", 100, nullable=True),
        _s("representative_name", 100, nullable=True),
        _i("member_count", nullable=True),
        _s("residency", 16),
        _s("residency_basis", 16, nullable=True),
        _s("email", 254),
        _s("phone", 20, nullable=True),
        _s("status", 16, index=True),
        sa.Column("identity_verified", sa.Boolean, nullable=False),
        _s("reduction", 32),
        _s("reduction_granted_by", 128, nullable=True),
        _s("decided_by", 128, nullable=True),
        _t("decided_at", nullable=True),
        _s("decision_note", 500, nullable=True),
        _t("restricted_until", nullable=True),
        _s("calendar_token_hash", 64, nullable=True, unique=True),
        _t("created_at"),
        _t("updated_at"),
    )
    op.create_table("counters", _s("name", 32, primary_key=True), _i("value"))
    op.create_table(
        "active_counts",
        _s("registration_id", 64, primary_key=True),
        _s("facility_code", 64, primary_key=True),
        _i("count"),
    )
    op.create_table(
        "series",
        _s("id", 64, primary_key=True),
        _s("subject", 128, index=True),
        _s("facility_code", 64),
        _s("unit_code", 64),
        _s("slot_code", 16),
        sa.Column("first_day", sa.Date, nullable=False),
        _i("weeks"),
        _j("skipped"),
        _t("created_at"),
    )
    op.create_table(
        "reservations",
        _s("id", 64, primary_key=True),
        _s("registration_id", 64, index=True),
        _s("subject", 128, index=True),
        _s("facility_code", 64),
        _s("unit_code", 64),
        sa.Column("day", sa.Date, nullable=False),
        _s("slot_code", 16),
        _t("starts_at"),
        _t("ends_at"),
        _s("status", 32, index=True),
        _i("base_fee"),
        _i("fee"),
        _s("residency", 16),
        _s("day_type", 16),
        _i("reduction_percent"),
        _s("payment_method", 16, nullable=True),
        _s("payment_id", 64, nullable=True, index=True),
        _i("paid_amount"),
        _t("hold_expires_at", nullable=True, index=True),
        _s("series_id", 64, nullable=True, index=True),
        _s("lottery_entry_id", 64, nullable=True),
        _s("purpose", 200),
        _i("attendees", nullable=True),
        _i("refund_percent", nullable=True),
        _i("refund_amount", nullable=True),
        sa.Column("late_cancellation", sa.Boolean, nullable=False),
        _t("reminded_at", nullable=True),
        _t("created_at"),
        _t("updated_at"),
        _t("cancelled_at", nullable=True),
    )
    op.create_index("ix_reservations_facility_day", "reservations", ["facility_code", "day"])
    op.create_table(
        "reservation_events",
        sa.Column("id", sa.Integer, primary_key=True),
        _s("reservation_id", 64, index=True),
        _t("at"),
        _s("transition", 32),
        _s("from_state", 32, nullable=True),
        _s("to_state", 32),
        _s("actor", 128, nullable=True),
        _s("note", 500, nullable=True),
    )
    op.create_table(
        "lottery_rounds",
        _s("id", 64, primary_key=True),
        _s("facility_code", 64, index=True),
        _s("target_month", 7),
        _s("title_ja", 200),
        _j("unit_codes"),
        _t("opens_at"),
        _t("closes_at"),
        _t("draw_at"),
        _t("confirm_by"),
        _t("first_come_opens_at"),
        _i("max_entries_per_user"),
        _s("seed_hex", 64),
        _s("commitment", 64),
        _s("status", 16, index=True),
        _t("drawn_at", nullable=True),
        _s("created_by", 128),
        _t("created_at"),
        sa.UniqueConstraint("facility_code", "target_month", name="uq_round_facility_month"),
    )
    op.create_table(
        "lottery_entries",
        _s("id", 64, primary_key=True),
        _s("round_id", 64, index=True),
        _s("subject", 128, index=True),
        _s("registration_id", 64),
        _i("user_entry_no"),
        _s("unit_code", 64),
        sa.Column("day", sa.Date, nullable=False),
        _s("slot_code", 16),
        _s("status", 16),
        _s("reservation_id", 64, nullable=True),
        _t("created_at"),
        sa.UniqueConstraint(
            "round_id", "subject", "unit_code", "day", "slot_code", name="uq_entry_once"
        ),
        sa.UniqueConstraint("round_id", "subject", "user_entry_no", name="uq_entry_quota"),
    )
    op.create_table(
        "waitlist",
        _s("id", 64, primary_key=True),
        _s("subject", 128, index=True),
        _s("registration_id", 64),
        _s("facility_code", 64),
        _s("unit_code", 64),
        sa.Column("day", sa.Date, nullable=False),
        _s("slot_code", 16),
        _s("status", 16),
        _t("offer_expires_at", nullable=True, index=True),
        _s("reservation_id", 64, nullable=True),
        _t("created_at"),
    )
    op.create_index(
        "ix_waitlist_cell", "waitlist", ["facility_code", "unit_code", "day", "slot_code"]
    )


def downgrade() -> None:
    for table in (
        "waitlist",
        "lottery_entries",
        "lottery_rounds",
        "reservation_events",
        "reservations",
        "series",
        "active_counts",
        "counters",
        "registrations",
        "blocks",
        "occupancy",
        "units",
        "facilities",
    ):
        op.drop_table(table)
