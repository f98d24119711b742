"""利用者登録: requests and responses."""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.facility_booking.domain.lifecycles import RegistrationState
from services.facility_booking.domain.vocabulary import (
    ApplicantType,
    Reduction,
    Residency,
    ResidencyBasis,
)
from services.kit.pagination import Page

ULID = r"[0-9A-HJKMNP-TV-Z]{26}"
REGISTRATION_ID_PATTERN = rf"^reg_{ULID}$"
# A mailbox the SMTP envelope can carry as is: no quoting, comments or display names.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)
Name = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$")


class RegistrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    applicant_type: ApplicantType
    name: str = Name
    group_name: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$")
    representative_name: str | None = Field(
        None, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f]+$"
    )
    member_count: int | None = Field(None, ge=2, le=10_000)
    residency: Residency
    residency_basis: ResidencyBasis | None = None
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    phone: str | None = Field(None, pattern=r"^[0-9+\-]{6,20}$")

    @model_validator(mode="after")
    def _group_and_residency(self) -> Self:
        if self.applicant_type is ApplicantType.GROUP and not (
            self.group_name and self.representative_name and self.member_count
        ):
            raise ValueError("a group needs group_name, representative_name and member_count")
        if self.residency is Residency.RESIDENT and self.residency_basis is None:
            raise ValueError("a resident registration needs residency_basis")
        if self.residency is Residency.NON_RESIDENT and self.residency_basis is not None:
            raise ValueError("residency_basis is only for residents")
        return self


class RegistrationRead(BaseModel):
    id: str
    user_number: str
    status: RegistrationState
    applicant_type: ApplicantType
    name: str
    group_name: str | None
    representative_name: str | None
    member_count: int | None
    residency: Residency
    residency_basis: ResidencyBasis | None
    email: str
    phone: str | None
    identity_verified: bool
    reduction: Reduction
    reduction_percent: int
    decision_note: str | None
    restricted_until: datetime | None
    created_at: datetime


class RegistrationList(Page[RegistrationRead]):
    pass


class Decision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(None, max_length=500, pattern=r"^[^\x00]*$")


class ReductionGrant(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reduction: Reduction


class CalendarFeed(BaseModel):
    url: str
    note_ja: str = "このURLを知っている人は予約の日時を見られます。漏れたときは再発行してください。"
