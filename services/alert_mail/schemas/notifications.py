"""Transactional notices: templates, their versions, previews and notifications."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from services.alert_mail.domain.delivery_status import DeliveryState
from services.alert_mail.domain.languages import Language
from services.alert_mail.domain.templates_lifecycle import TemplateState
from services.kit.schemas import WriteModel

NotificationStatus = DeliveryState  # a notification's status is its delivery's

TEMPLATE_ID_PATTERN = r"^tpl_[A-Za-z0-9_]{1,60}$"
NOTIFICATION_ID_PATTERN = r"^ntf_[0-9A-HJKMNP-TV-Z]{26}$"
# A mailbox the SMTP envelope can carry as is: no quoting, comments or display names.
EMAIL_PATTERN = (
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Description = Annotated[str, StringConstraints(max_length=1000, strip_whitespace=True)]
Subject = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
Body = Annotated[str, StringConstraints(min_length=1, max_length=50_000)]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=255)]
EmailAddress = Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN)]
TemplateId = Annotated[str, StringConstraints(max_length=64, pattern=TEMPLATE_ID_PATTERN)]

Scalar = (
    Annotated[str, StringConstraints(max_length=10_000)]
    | bool
    | int
    | Annotated[float, Field(allow_inf_nan=False)]
)
Value = Scalar | Annotated[list[Scalar], Field(max_length=100)] | None
Personalisation = Annotated[
    dict[Annotated[str, StringConstraints(min_length=1, max_length=100)], Value],
    Field(max_length=100),
]

PERSONALISATION_HELP = (
    "values for the template's ((placeholders)), by name (case, spaces, '_' and '-' do not "
    "matter); every ((name)) needs one, ((name??text)) takes yes/no (true/false) and may be "
    "left out; a list becomes one ・ line per item; extra keys are ignored"
)


# --- templates -------------------------------------------------------------------------------


class TemplateCreate(WriteModel):
    name: Name = Field(description="for staff and clients, e.g. 申請受付のお知らせ")
    description: Description | None = None
    language: Language = Language.JA
    subject: Subject = Field(description="one line; may hold ((placeholders))")
    body: Body = Field(description="plain text with ((name)) and ((name??text)) placeholders")


class TemplateUpdate(WriteModel):
    """A changed subject or body makes version n+1; name and description change in place."""

    name: Name | None = None
    description: Description | None = None
    subject: Subject | None = None
    body: Body | None = None


class TemplateVersionSummary(BaseModel):
    version: int
    created_at: datetime
    created_by: str


class TemplateVersionRead(TemplateVersionSummary):
    template_id: str
    subject: str
    body: str
    placeholders: list[str] = Field(description="the names every notification must fill")
    optional_placeholders: list[str] = Field(description="((name??text)) names: yes/no")


class TemplateSummary(BaseModel):
    id: str
    name: str
    description: str | None
    language: Language
    state: TemplateState
    version: int = Field(description="the latest version")
    subject: str
    body: str
    placeholders: list[str]
    optional_placeholders: list[str]
    allowed_transitions: list[str]
    created_by: str
    created_at: datetime
    updated_at: datetime
    archived_at: datetime | None


class TemplateRead(TemplateSummary):
    versions: list[TemplateVersionSummary] = Field(
        description="newest first, at most 100 (all of them: GET .../versions)"
    )


class TemplateList(BaseModel):
    items: list[TemplateSummary]
    next_cursor: str | None = None


class TemplateVersionList(BaseModel):
    items: list[TemplateVersionSummary]
    next_cursor: str | None = None


class PreviewCreate(WriteModel):
    personalisation: Personalisation = Field(default_factory=dict, description=PERSONALISATION_HELP)
    version: int | None = Field(None, ge=1, le=1_000_000, description="default: the latest")


class PreviewRead(BaseModel):
    template_id: str
    template_version: int
    subject: str
    body: str


# --- notifications ---------------------------------------------------------------------------


class NotificationCreate(WriteModel):
    email_address: EmailAddress
    template_id: TemplateId
    personalisation: Personalisation = Field(default_factory=dict, description=PERSONALISATION_HELP)
    reference: Reference | None = Field(
        None, description="your own identifier (e.g. the application id), to find it again"
    )


class NotificationRead(BaseModel):
    id: str
    reference: str | None
    email_address: str
    template_id: str
    template_version: int
    subject: str
    body: str
    status: NotificationStatus
    created_at: datetime
    updated_at: datetime = Field(description="the last status change")
    completed_at: datetime | None = Field(
        description="when it reached delivered, permanent-failure or technical-failure"
    )


class NotificationList(BaseModel):
    items: list[NotificationRead]
    next_cursor: str | None = None
