"""What a procedure of the catalogue is: one published version of its definition.

An edit publishes a new version; an application keeps the version it was filed against."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from services.e_application.domain.fees import Fee, PaymentMethod
from services.e_application.domain.forms import InvalidFormSchema, check_schema
from services.e_application.domain.lifecycle import Assurance
from services.e_application.domain.uploads import UPLOADABLE, MediaType

Uploadable = Literal[MediaType.PDF, MediaType.PNG, MediaType.JPEG]
CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
DEPARTMENT_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"
MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


class IssuedDocument(StrEnum):
    """A document the city issues back (交付) that the service can render itself."""

    RESIDENCE_CERTIFICATE = "residence_certificate"  # 住民票の写し (mock)


class AttachmentPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    accepted: list[Uploadable] = Field(default_factory=lambda: list(UPLOADABLE), min_length=1)
    max_bytes: int = Field(5 * 1024 * 1024, ge=1024, le=MAX_ATTACHMENT_BYTES)
    max_count: int = Field(5, ge=0, le=20)
    required: bool = Field(False, description="at least one document attachment is needed")
    note_ja: str | None = Field(None, max_length=300)


class ProcedureDefinition(BaseModel):
    """Everything a version of a procedure says; stored as JSON, never edited in place."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name_ja: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    description_ja: str = Field("", max_length=2000)
    description_en: str = Field("", max_length=2000)
    department: str = Field(pattern=DEPARTMENT_PATTERN)
    category_ja: str = Field(min_length=1, max_length=64)
    assurance: Assurance
    signature_required: bool = Field(
        False, description="a My Number card signature (公的個人認証) over the application"
    )
    form_schema: dict[str, Any] = Field(description="JSON Schema 2020-12 of the form")
    prefill: dict[Annotated[str, Field(pattern=r"^(/[^/]+)+$")], str] = Field(
        default_factory=dict,
        description="form pointer → certificate field (券面事項入力補助): name, address, "
        "birth_date, sex",
    )
    fee: Fee | None = None
    payment_methods: list[PaymentMethod] = Field(default_factory=list)
    attachments: AttachmentPolicy = Field(default_factory=AttachmentPolicy)
    standard_processing_days: int | None = Field(None, ge=1, le=365)
    capacity: int | None = Field(None, ge=1, le=100_000, description="event sign-ups")
    deadline: AwareDatetime | None = Field(None, description="sign-ups close at this moment")
    four_eyes: bool = Field(False, description="approval needs a second staff member (approver)")
    representative_allowed: bool = Field(True, description="代理人 may file with a 委任状")
    issued_document: IssuedDocument | None = None

    @field_validator("form_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            check_schema(value)
        except InvalidFormSchema as exc:
            raise ValueError(str(exc)) from exc
        return value

    @model_validator(mode="after")
    def _fee_needs_a_method(self) -> ProcedureDefinition:
        if self.fee is not None and not self.payment_methods:
            raise ValueError("a procedure with a fee must accept at least one payment method")
        if self.prefill and not set(self.prefill.values()) <= CERTIFICATE_FIELDS:
            raise ValueError(f"prefill may use only {sorted(CERTIFICATE_FIELDS)}")
        return self

    def is_open(self, now: datetime) -> bool:
        return self.deadline is None or now <= self.deadline


CERTIFICATE_FIELDS = frozenset({"name", "address", "birth_date", "sex"})
