"""Delivery progress of an alert and its per-recipient deliveries."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from services.alert_mail.domain.delivery_status import DeliveryState

DELIVERY_ID_PATTERN = r"^dlv_[0-9]{1,19}$"


def delivery_public_id(row_id: int) -> str:
    return f"dlv_{row_id}"


class AlertProgress(BaseModel):
    alert_id: str
    alert_status: str
    total: int = Field(description="recipients the alert was fanned out to")
    counts: dict[DeliveryState, int] = Field(
        description="deliveries per status (every status listed)"
    )
    delivered: int
    pending: int = Field(description="created, sending or waiting for a retry")
    failed: int = Field(description="permanent-failure and technical-failure")
    retries_scheduled: int = Field(description="temporary failures waiting for their retry")
    cancelled: int = Field(description="never sent: a Cancel of the alert came first")
    superseded: int = Field(
        description="never sent: an Update of the alert came first (it was mailed instead)"
    )
    reach_rate: float = Field(description="到達率: delivered / total (0 to 1)")
    first_delivered_at: datetime | None
    last_delivered_at: datetime | None


class DeliveryRead(BaseModel):
    id: str
    alert_id: str | None
    subscription_id: str | None
    email: str
    language: str
    status: DeliveryState
    attempts: int
    next_attempt_at: datetime | None = Field(description="when a retry is due (pending only)")
    last_code: int | None = Field(description="the SMTP reply code of the last attempt")
    last_detail: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None


class DeliveryList(BaseModel):
    items: list[DeliveryRead]
    next_cursor: str | None = None
