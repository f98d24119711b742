"""The catalogue as the API shows it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from services.e_application.domain.catalogue import (
    AttachmentPolicy,
    IssuedDocument,
    ProcedureDefinition,
)
from services.e_application.domain.fees import Fee, PaymentMethod
from services.e_application.domain.lifecycle import Assurance


class ProcedureSummary(BaseModel):
    code: str
    version: int
    name_ja: str
    name_en: str
    description_ja: str
    description_en: str
    department: str
    category_ja: str
    assurance: Assurance
    signature_required: bool
    fee_yen: int | None = None  # a fixed fee, or the per-copy amount; None when computed per item
    has_fee: bool
    standard_processing_days: int | None
    capacity: int | None = None
    seats_left: int | None = None
    deadline: datetime | None = None
    online: bool = True


class ProcedureRead(ProcedureSummary):
    form_schema: dict[str, Any]
    prefill: dict[str, str]
    fee: Fee | None
    payment_methods: list[PaymentMethod]
    attachments: AttachmentPolicy
    four_eyes: bool
    representative_allowed: bool
    issued_document: IssuedDocument | None
    published_at: datetime
    published_by: str


class ProcedureVersionCreate(ProcedureDefinition):
    """A new version of a procedure: the whole definition (what is not sent takes its default)."""
