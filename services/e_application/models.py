"""Tables of e_application."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.kit.sqltypes import JSONType, UTCDateTime


class Procedure(SQLModel, table=True):
    """A procedure of the catalogue (手続き): the searchable summary of its current version,
    and the seats an event sign-up has given out (taken with a conditional UPDATE)."""

    __tablename__ = "procedures"

    code: str = Field(primary_key=True, max_length=64)
    version: int = Field(default=1)
    name_ja: str = Field(max_length=200)
    name_en: str = Field(max_length=200)
    description_ja: str = Field(default="", sa_column=Column(Text, nullable=False))
    description_en: str = Field(default="", sa_column=Column(Text, nullable=False))
    department: str = Field(max_length=64, index=True)
    category_ja: str = Field(max_length=64)
    assurance: str = Field(max_length=16)
    fee_yen: int | None = None
    standard_processing_days: int | None = None
    capacity: int | None = None
    taken: int = Field(default=0)
    active: bool = Field(default=True, sa_column=Column("active", nullable=False))


class ProcedureVersion(SQLModel, table=True):
    """One published version of a procedure's definition; never changed once written."""

    __tablename__ = "procedure_versions"

    code: str = Field(primary_key=True, max_length=64)
    version: int = Field(primary_key=True)
    definition: dict[str, Any] = Field(sa_column=Column(JSONType, nullable=False))
    digest: str = Field(max_length=64)
    published_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    published_by: str = Field(max_length=255)


class Application(SQLModel, table=True):
    __tablename__ = "applications"
    __table_args__ = (
        Index("ix_applications_queue", "department", "status", "id"),
        Index("ix_applications_owner", "owner_sub", "id"),
        Index("ix_applications_due", "department", "due_on"),
    )

    id: str = Field(primary_key=True, max_length=40)
    procedure_code: str = Field(max_length=64)
    procedure_version: int
    department: str = Field(max_length=64)
    status: str = Field(max_length=24)
    owner_sub: str | None = Field(default=None, max_length=255)
    channel: str = Field(default="online", max_length=16)
    filed_by: str | None = Field(default=None, max_length=255)  # staff at the counter
    representative: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    locale: str = Field(default="ja", max_length=2)
    contact_email: str | None = Field(default=None, max_length=254)
    form: dict[str, Any] = Field(sa_column=Column(JSONType, nullable=False))
    reference: str | None = Field(default=None, max_length=11, unique=True)
    access_code_hash: str | None = Field(default=None, max_length=64)
    assigned_to: str | None = Field(default=None, max_length=255, index=True)
    approval_requested_by: str | None = Field(default=None, max_length=255)
    holds_seat: bool = Field(default=False)
    fee_yen: int = Field(default=0)
    payment_status: str = Field(default="not_required", max_length=16)
    payment_method: str | None = Field(default=None, max_length=16)
    payment_id: str | None = Field(default=None, max_length=64)
    payment_instructions: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    correction: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    correction_deadline: date | None = Field(default=None, index=True)
    form_at_return: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    signature: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    due_on: date | None = None
    lookup_failures: int = Field(default=0)
    lookup_window_start: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    submitted_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    returned_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    decided_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    completed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class ApplicationEvent(SQLModel, table=True):
    """The append-only history of a case: every transition, with actor, time and comments."""

    __tablename__ = "application_events"
    __table_args__ = (UniqueConstraint("application_id", "seq", name="uq_application_event_seq"),)

    id: str = Field(primary_key=True, max_length=40)
    application_id: str = Field(max_length=40, foreign_key="applications.id")
    seq: int
    at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    actor: str | None = Field(default=None, max_length=255)
    actor_kind: str = Field(max_length=16)
    transition: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str = Field(max_length=24)
    comment: str | None = Field(default=None, sa_column=Column(Text))
    internal_comment: str | None = Field(default=None, sa_column=Column(Text))
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))


class Attachment(SQLModel, table=True):
    """A file of an application: the applicant's documents and 委任状, and what staff issue."""

    __tablename__ = "application_attachments"
    __table_args__ = (Index("ix_application_attachments_app", "application_id", "id"),)

    id: str = Field(primary_key=True, max_length=40)
    application_id: str = Field(max_length=40, foreign_key="applications.id")
    kind: str = Field(max_length=24)  # document | power_of_attorney | issued
    filename: str = Field(max_length=200)
    media_type: str = Field(max_length=64)
    size: int
    sha256: str = Field(max_length=64)
    storage_key: str = Field(max_length=200)
    uploaded_by: str | None = Field(default=None, max_length=255)
    title: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class ReferenceCounter(SQLModel, table=True):
    """The last reference number given out in a year; moved inside the submit transaction, so
    a rolled-back submission leaves no gap."""

    __tablename__ = "reference_counters"

    year: int = Field(primary_key=True)
    last: int = Field(default=0)


class PaymentAttempt(SQLModel, table=True):
    """One payment at payments_mock for an application's fee: a new attempt when the last
    slip expired. The fee's own axis, apart from the case."""

    __tablename__ = "application_payments"
    __table_args__ = (
        UniqueConstraint("application_id", "attempt", name="uq_application_payment_attempt"),
    )

    payment_id: str = Field(primary_key=True, max_length=64)
    application_id: str = Field(max_length=40, foreign_key="applications.id", index=True)
    attempt: int
    method: str = Field(max_length=16)
    amount_yen: int
    status: str = Field(max_length=24)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
