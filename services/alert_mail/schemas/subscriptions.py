"""Subscriptions: sign-up, confirmation, the subscriber's own view and staff counts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.alert_mail.domain.languages import Language
from services.alert_mail.domain.subscription_rules import MAX_CHOICES, SubscriptionState
from services.kit.pagination import Page
from services.kit.schemas import WriteModel

Code = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Token = Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class SubscriptionCreate(WriteModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "taro@example.jp",
                    "categories": ["disaster", "weather"],
                    "districts": ["chuo"],
                    "language": "ja",
                }
            ]
        }
    )

    email: Annotated[str, StringConstraints(min_length=3, max_length=254)] = Field(
        description="where alerts go; nothing is sent but the confirmation until it is confirmed"
    )
    categories: list[Code] = Field(
        min_length=1, max_length=MAX_CHOICES, description="category codes (GET /v1/categories)"
    )
    districts: list[Code] = Field(
        default_factory=list,
        max_length=MAX_CHOICES,
        description="district codes (GET /v1/districts); empty means the whole city (市内全域)",
    )
    language: Language = Language.JA
    plain_japanese: bool = Field(
        False, description="やさしい日本語 (plain Japanese) when an alert has it; language ja only"
    )


class SubscriptionAccepted(BaseModel):
    """The same answer for every address, known or not (it never reveals a registration)."""

    status: Literal["accepted"] = "accepted"
    detail: str = (
        "If the address can receive mail, a confirmation link is on its way. "
        "Nothing is registered until the link is confirmed."
    )


class ConfirmRequest(WriteModel):
    token: Token


class SubscriptionRead(BaseModel):
    id: str
    email: str
    status: SubscriptionState
    categories: list[str]
    districts: list[str] = Field(description="empty: the whole city (市内全域)")
    language: Language
    plain_japanese: bool
    created_at: datetime
    updated_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None


class SubscriptionConfirmed(SubscriptionRead):
    manage_url: str = Field(description="the subscriber's personal manage link")


class SubscriptionUpdate(WriteModel):
    """Omitted fields stay as they are. `status` moves the subscription: `unsubscribed`
    (unsubscribe) or `active` (resubscribe after an unsubscribe or a bounce suspension)."""

    categories: list[Code] | None = Field(None, min_length=1, max_length=MAX_CHOICES)
    districts: list[Code] | None = Field(None, max_length=MAX_CHOICES)
    language: Language | None = None
    plain_japanese: bool | None = None
    status: Literal[SubscriptionState.ACTIVE, SubscriptionState.UNSUBSCRIBED] | None = None


class SubscriptionList(BaseModel):
    items: list[SubscriptionRead]
    next_cursor: str | None = None


class SubscriptionEventRead(BaseModel):
    """One status change. `actor` is the account that made it; null for a resident's mailed
    link or the system (a suspension after repeated hard bounces, which `note` says)."""

    id: int
    at: datetime
    transition: str
    from_state: SubscriptionState | None
    to_state: SubscriptionState
    actor: str | None
    note: str | None


class SubscriptionEventList(Page[SubscriptionEventRead]):
    pass


class SubscriptionCounts(BaseModel):
    """Counts only, no personal data. Category, district and language counts are of active
    subscriptions; `city_wide` counts active ones that chose no district."""

    total: int
    by_status: dict[str, int]
    by_category: dict[str, int]
    by_district: dict[str, int]
    city_wide: int
    by_language: dict[str, int]
