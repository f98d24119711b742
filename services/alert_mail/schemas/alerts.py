"""Alerts: compose, edit, review, read; and their transition history."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, Field, StringConstraints

from services.alert_mail.domain.alert_rules import Certainty, MsgType, Severity, Urgency
from services.kit.pagination import Page
from services.kit.schemas import WriteModel

ALERT_ID_PATTERN = r"^alt_[0-9A-HJKMNP-TV-Z]{26}$"
CODE_PATTERN = r"^[a-z0-9][a-z0-9-]{0,63}$"

AlertId = Annotated[str, StringConstraints(pattern=ALERT_ID_PATTERN, max_length=64)]
Code = Annotated[str, StringConstraints(pattern=CODE_PATTERN, max_length=64)]
Headline = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=140)]
Body = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
Instruction = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2_000)
]
Note = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1_000)]


class LanguageContent(WriteModel):
    headline: Headline = Field(description="見出し; at most 140 characters (CAP headline)")
    body: Body = Field(description="本文 (CAP description)")
    instruction: Instruction | None = Field(None, description="とるべき行動 (CAP instruction)")


class AlertContent(WriteModel):
    """The text per language: `ja` is required; the others are sent to subscribers who chose
    that language (`ja-plain`: やさしい日本語), and fall back to `ja` when missing."""

    ja: LanguageContent
    ja_plain: LanguageContent | None = Field(None, alias="ja-plain")
    en: LanguageContent | None = None
    zh: LanguageContent | None = None
    ko: LanguageContent | None = None

    def stored(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


Districts = Annotated[list[Code], Field(max_length=50)]


class AlertCreate(WriteModel):
    category: Code = Field(description="a code from GET /v1/categories")
    districts: Districts = Field(
        default_factory=list, description="codes from GET /v1/districts; empty: 市内全域"
    )
    severity: Severity
    urgency: Urgency
    certainty: Certainty
    content: AlertContent
    expires_at: AwareDatetime = Field(description="when the alert stops being current")
    msg_type: MsgType = Field(MsgType.ALERT, description="CAP msgType")
    references: AlertId | None = Field(
        None, description="the sent alert an Update or a Cancel replaces"
    )


class AlertPatch(WriteModel):
    """Changes to a draft; fields left out keep their value."""

    category: Code | None = None
    districts: Districts | None = None
    severity: Severity | None = None
    urgency: Urgency | None = None
    certainty: Certainty | None = None
    content: AlertContent | None = None
    expires_at: AwareDatetime | None = None
    msg_type: MsgType | None = None
    references: AlertId | None = None


class AlertReject(WriteModel):
    note: Note = Field(description="why: shown to the author, kept in the history")


class AlertWithdraw(WriteModel):
    note: Note | None = None


class LanguageContentRead(BaseModel):
    headline: str
    body: str
    instruction: str | None = None


class AlertRead(BaseModel):
    id: str
    status: str
    msg_type: str
    references: str | None
    category: str
    department: str
    districts: list[str]
    severity: str
    urgency: str
    certainty: str
    content: dict[str, LanguageContentRead]
    emergency: bool
    created_by: str
    submitted_by: str | None
    approved_by: str | None
    recipients: int
    version: int
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    sent_at: datetime | None
    completed_at: datetime | None
    superseded_by: str | None
    cancelled_at: datetime | None
    allowed_transitions: list[str]


class PublicAlertRead(BaseModel):
    """What anyone may see of a sent alert."""

    id: str
    status: str
    msg_type: str
    references: str | None
    category: str
    districts: list[str]
    severity: str
    urgency: str
    certainty: str
    content: dict[str, LanguageContentRead]
    sent_at: datetime
    expires_at: datetime
    superseded_by: str | None
    cancelled_at: datetime | None
    cap_url: str


class AlertEventRead(BaseModel):
    seq: int
    transition: str
    from_status: str | None
    to_status: str
    actor: str | None
    note: str | None
    at: datetime


AlertList = Page[AlertRead]
PublicAlertList = Page[PublicAlertRead]
AlertEventList = Page[AlertEventRead]
