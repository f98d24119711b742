"""Alerts (緊急情報) and their append-only transition history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from services.alert_mail.models._columns import json_column, timestamp


class Alert(SQLModel, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        Index("ix_alerts_status_sent", "status", "sent_at"),
        Index("ix_alerts_fingerprint", "fingerprint", "sent_at"),
    )

    id: str = Field(primary_key=True, max_length=64)  # alt_...
    status: str = Field(max_length=16)  # draft | submitted | sending | completed | withdrawn
    msg_type: str = Field(default="Alert", max_length=8)  # CAP msgType: Alert | Update | Cancel
    references_id: str | None = Field(default=None, foreign_key="alerts.id", max_length=64)
    category: str = Field(foreign_key="categories.code", max_length=64)
    # District codes; an empty list means the whole city (市内全域).
    districts: list[str] = json_column("districts")
    severity: str = Field(max_length=16)  # CAP: Extreme Severe Moderate Minor Unknown
    urgency: str = Field(max_length=16)  # CAP: Immediate Expected Future Past Unknown
    certainty: str = Field(max_length=16)  # CAP: Observed Likely Possible Unlikely Unknown
    # {"ja": {"headline", "body", "instruction"}, "en": {...}, "ja-plain": {...}}; ja required.
    content: dict[str, Any] = json_column("content")
    department: str = Field(max_length=64)
    emergency: bool = False  # published at once by an emergency_publisher (no approval)
    fingerprint: str = Field(max_length=64)  # hash of the content, for the duplicate window
    created_by: str = Field(max_length=255)
    submitted_by: str | None = Field(default=None, max_length=255)
    approved_by: str | None = Field(default=None, max_length=255)
    recipients: int = 0  # deliveries created at fan-out
    version: int = 0
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    expires_at: datetime = timestamp()
    sent_at: datetime | None = timestamp(nullable=True)  # CAP `sent`: when sending began
    completed_at: datetime | None = timestamp(nullable=True)
    # Set when a later Update or Cancel that references this alert is sent: feeds then list
    # the newer one instead (and a cancelled alert is no longer current).
    superseded_by: str | None = Field(default=None, max_length=64)
    cancelled_at: datetime | None = timestamp(nullable=True)


class AlertEvent(SQLModel, table=True):
    __tablename__ = "alert_events"

    id: int | None = Field(default=None, primary_key=True)
    alert_id: str = Field(foreign_key="alerts.id", max_length=64, index=True)
    transition: str = Field(max_length=32)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    actor: str | None = Field(default=None, max_length=255)
    note: str | None = Field(default=None, max_length=1000)
    at: datetime = timestamp()
