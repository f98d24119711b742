"""Request and response models of staff call-up (職員参集)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from services.alert_mail.domain.callup_lifecycle import CallupState
from services.alert_mail.domain.callup_replies import (
    MAX_ARRIVAL_MINUTES,
    MAX_COMMENT_CHARS,
    ReplyStatus,
)
from services.kit.schemas import WriteModel

Code = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Department = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
# No spaces or line breaks anywhere, one @, a dot in the domain: enough to route mail and to
# keep header injection out; the SMTP server has the final word.
Email = Annotated[
    str, StringConstraints(max_length=254, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")
]
Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9-]{5,30}$")]
GroupId = Annotated[str, StringConstraints(pattern=r"^grp_[0-9A-HJKMNP-TV-Z]{26}$")]
AlertId = Annotated[str, StringConstraints(pattern=r"^alt_[0-9A-HJKMNP-TV-Z]{26}$")]


class StaffGroupCreate(WriteModel):
    code: Code = Field(description="short stable code, e.g. saigai-honbu")
    name_ja: Name = Field(description="e.g. 災害対策本部員")
    department: Department = Field(description="department whose staff read its call-ups")


class StaffGroupUpdate(WriteModel):
    name_ja: Name | None = None
    department: Department | None = None


class StaffGroupRead(BaseModel):
    id: str
    code: str
    name_ja: str
    department: str
    members: int
    created_at: datetime
    updated_at: datetime


class StaffGroupList(BaseModel):
    items: list[StaffGroupRead]
    next_cursor: str | None = None


class MemberCreate(WriteModel):
    name: Name
    email: Email
    staff_sub: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        None, description="the member's staff account, when they have one"
    )
    phone: Phone | None = None


class MemberRead(BaseModel):
    id: str
    group_id: str
    name: str
    email: str
    staff_sub: str | None
    phone: str | None
    created_at: datetime


class MemberList(BaseModel):
    items: list[MemberRead]
    next_cursor: str | None = None


class CallupCreate(WriteModel):
    group_id: GroupId
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    message: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    alert_id: AlertId | None = Field(None, description="the alert this call-up responds to")


class CallupRead(BaseModel):
    id: str
    group_id: str
    group_name: str
    department: str
    title: str
    message: str
    status: CallupState
    alert_id: str | None
    recipients: int
    replied: int
    created_by: str
    created_at: datetime
    closed_by: str | None
    closed_at: datetime | None


class CallupList(BaseModel):
    items: list[CallupRead]
    next_cursor: str | None = None


class LatestReplyRead(BaseModel):
    status: ReplyStatus
    arrival_minutes: int | None
    expected_arrival_at: datetime | None
    comment: str | None
    replied_at: datetime


class RecipientRead(BaseModel):
    id: str
    member_id: str
    name: str
    email: str
    staff_sub: str | None
    delivery_status: str | None
    latest_reply: LatestReplyRead | None


class RecipientList(BaseModel):
    items: list[RecipientRead]
    next_cursor: str | None = None


class PersonRead(BaseModel):
    recipient_id: str
    name: str


class ArrivalBucketRead(BaseModel):
    label: str = Field(description="le_30, le_60, le_120 or gt_120")
    min_minutes: int
    max_minutes: int | None
    count: int


class HourlyArrivalsRead(BaseModel):
    hour: datetime = Field(description="start of the hour (JST)")
    arriving: int
    cumulative: int


class CallupSummary(BaseModel):
    callup_id: str
    status: CallupState
    recipients: int
    replied: int
    not_replied_count: int
    by_status: dict[str, int] = Field(description="latest reply per recipient: safe/injured/…")
    coming: int = Field(description="recipients who answered with an arrival time")
    arrival_buckets: list[ArrivalBucketRead]
    expected_by_hour: list[HourlyArrivalsRead]
    not_replied: list[PersonRead]
    delivery: dict[str, int] = Field(description="call-up mails by delivery status")


class CallupReplyCreate(WriteModel):
    token: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    status: ReplyStatus
    arrival_minutes: int | None = Field(None, ge=0, le=MAX_ARRIVAL_MINUTES)
    comment: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_COMMENT_CHARS)]
        | None
    ) = None


class CallupReplyRead(BaseModel):
    callup_id: str
    recipient_id: str
    status: ReplyStatus
    arrival_minutes: int | None
    expected_arrival_at: datetime | None
    comment: str | None
    replied_at: datetime
