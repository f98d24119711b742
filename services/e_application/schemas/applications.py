"""Applications as the applicant and as staff see them, and the bodies that change them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from services.e_application.domain.catalogue import CODE_PATTERN
from services.e_application.domain.fees import PaymentMethod
from services.e_application.domain.lifecycle import Channel, PaymentStatus, Status, Transition
from services.e_application.domain.references import REFERENCE_PATTERN
from services.kit.schemas import WriteModel

Locale = Literal["ja", "en"]
Email = Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Comment = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
Pointer = Annotated[str, StringConstraints(min_length=2, max_length=200, pattern=r"^(/[^/]+)+$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
APPLICATION_ID_PATTERN = r"^app_[0-9A-Z]{26}$"
ATTACHMENT_ID_PATTERN = r"^att_[0-9A-Z]{26}$"


class Representative(WriteModel):
    """代理人: who files for the applicant (a 委任状 must be attached before submitting)."""

    name: Name
    relationship: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    represented_name: Name
    represented_address: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class SignatureInput(WriteModel):
    """A My Number card signature (ECDSA-SHA256, DER, base64url) over the signing payload."""

    certificate: Annotated[str, StringConstraints(min_length=1, max_length=16_384)]
    signature: Annotated[
        str, StringConstraints(min_length=16, max_length=512, pattern=r"^[A-Za-z0-9_-]+={0,2}$")
    ]


class ApplicationCreate(WriteModel):
    procedure_code: Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
    form: dict[str, Any] = Field(default_factory=dict)
    locale: Locale = "ja"
    contact_email: Email | None = None
    representative: Representative | None = None
    submit: bool = Field(
        False, description="submit at once (the only way for an applicant without an account)"
    )


class ApplicationUpdate(WriteModel):
    """Changes to a draft, or to a returned application before it is resubmitted."""

    form: dict[str, Any] | None = Field(None, description="replaces the whole form")
    locale: Locale | None = None
    contact_email: Email | None = None
    representative: Representative | None = None


class SubmitRequest(WriteModel):
    signature: SignatureInput | None = None


class WithdrawRequest(WriteModel):
    reason: Comment | None = None


class AttachmentRead(BaseModel):
    id: str
    kind: str
    filename: str
    title: str | None
    media_type: str
    size: int
    sha256: str
    created_at: datetime


class CorrectionRead(BaseModel):
    fields: list[str]
    message: str
    deadline: date


class SignatureRead(BaseModel):
    signer_name: str
    serial: str
    signed_at: datetime
    payload_sha256: str


class PaymentAttemptRead(BaseModel):
    payment_id: str
    attempt: int
    method: PaymentMethod
    amount_yen: int
    status: str = Field(description="the payment's status at payments_mock, as last heard")
    expires_at: datetime
    created_at: datetime


class PaymentRead(BaseModel):
    """The fee's own axis: its status, the current payment's instructions, every attempt."""

    status: PaymentStatus
    amount_yen: int
    method: PaymentMethod | None = None
    payment_id: str | None = None
    instructions: dict[str, Any] | None = None
    attempts: list[PaymentAttemptRead] = Field(default_factory=list)


class PaymentStart(WriteModel):
    method: PaymentMethod
    card_number: Annotated[str, StringConstraints(pattern=r"^[0-9]{12,19}$")] | None = Field(
        None, description="for method card: one of payments_mock's test card numbers"
    )


class ApplicationRead(BaseModel):
    id: str
    procedure_code: str
    procedure_version: int
    procedure_name_ja: str
    procedure_name_en: str
    department: str
    status: Status
    status_label_ja: str
    reference: str | None
    access_code: str | None = Field(
        None, description="shown once, when the application is submitted: keep it"
    )
    channel: Channel
    form: dict[str, Any]
    locale: Locale
    contact_email: str | None
    representative: dict[str, Any] | None
    payment: PaymentRead
    correction: CorrectionRead | None
    signature: SignatureRead | None
    due_on: date | None
    attachments: list[AttachmentRead]
    documents: list[AttachmentRead] = Field(description="issued back by the city (交付)")
    allowed_actions: list[str]
    created_at: datetime
    updated_at: datetime
    submitted_at: datetime | None
    decided_at: datetime | None
    completed_at: datetime | None


class StaffApplicationRead(ApplicationRead):
    owner_sub: str | None
    filed_by: str | None
    assigned_to: str | None
    approval_requested_by: str | None
    overdue: bool
    changed_since_return: list[str] = Field(
        default_factory=list, description="form pointers the resubmission changed"
    )
    allowed_transitions: list[Transition]


class QueueItem(BaseModel):
    id: str
    reference: str | None
    procedure_code: str
    status: Status
    channel: Channel
    assigned_to: str | None
    submitted_at: datetime | None
    due_on: date | None
    overdue: bool
    fee_yen: int
    payment_status: PaymentStatus


class MineItem(BaseModel):
    id: str
    reference: str | None
    procedure_code: str
    procedure_version: int
    status: Status
    status_label_ja: str
    created_at: datetime
    updated_at: datetime


class EventRead(BaseModel):
    seq: int
    at: datetime
    transition: str
    from_status: Status | None
    to_status: Status
    actor_kind: str
    comment: str | None
    data: dict[str, Any]


class StaffEventRead(EventRead):
    actor: str | None
    internal_comment: str | None


class StatusRead(BaseModel):
    """What the reference and access code tell: the status, nothing else."""

    reference: str
    status: Status
    status_label_ja: str
    updated_at: datetime


class StatusLookup(WriteModel):
    reference: Annotated[str, StringConstraints(pattern=REFERENCE_PATTERN)]
    access_code: Annotated[str, StringConstraints(min_length=12, max_length=20)]


class SigningPayload(BaseModel):
    application_id: str
    payload: str = Field(description="the canonical JSON to sign, as text")
    sha256: str


class TransitionRequest(WriteModel):
    comment: Comment | None = Field(None, description="shown to the applicant")
    internal_comment: Comment | None = Field(None, description="staff only")


class ReturnRequest(TransitionRequest):
    fields: list[Pointer] = Field(min_length=1, max_length=50)
    message: Comment
    deadline: date


class AssignRequest(WriteModel):
    assignee: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        None, description="a staff member's sub; omit to take it yourself"
    )


class CounterFiling(WriteModel):
    """窓口代行: staff enter an application for a resident at the counter."""

    procedure_code: Annotated[str, StringConstraints(pattern=CODE_PATTERN)]
    form: dict[str, Any]
    locale: Locale = "ja"
    contact_email: Email | None = None
    applicant_sub: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        None, description="the resident's account, when they have one: they then see it online"
    )
    identity_document: Literal["my_number_card", "driver_license", "passport", "other"]
    comment: Comment | None = None


class DocumentIssue(WriteModel):
    """Staff render the procedure's own document (e.g. the 住民票の写し mock)."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class SignatureCheck(BaseModel):
    """A stored signature checked again: each property on its own."""

    valid: bool
    payload_matches: bool
    signature_valid: bool
    certificate_valid_at_signing: bool
    certificate_problem: str | None = None
    revoked: bool
    revoked_at: datetime | None
    checked_at: datetime
