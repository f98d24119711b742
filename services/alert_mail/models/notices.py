"""Transactional notices for other services (like GOV.UK Notify): templates with append-only
versions, and the notifications sent from them.

A notification's status is its delivery's status; its rendered subject and body live in the
delivery's `outgoing_messages` row, so nothing is stored twice."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, Text
from sqlmodel import Field, SQLModel

from services.alert_mail.models._columns import json_column, timestamp


class NotificationTemplate(SQLModel, table=True):
    __tablename__ = "notification_templates"

    id: str = Field(primary_key=True, max_length=64)  # tpl_...
    name: str = Field(max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    language: str = Field(default="ja", max_length=8)  # ja | en | zh | ko
    version: int = 1  # the latest version's number
    archived: bool = False
    created_by: str = Field(max_length=255)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    archived_at: datetime | None = timestamp(nullable=True)


class NotificationTemplateVersion(SQLModel, table=True):
    """Append-only: an edit of the subject or body adds version n+1."""

    __tablename__ = "notification_template_versions"

    template_id: str = Field(
        foreign_key="notification_templates.id", primary_key=True, max_length=64
    )
    version: int = Field(primary_key=True)
    subject: str = Field(max_length=500)
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_by: str = Field(max_length=255)
    created_at: datetime = timestamp()


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_client_id", "client", "id"),
        Index("ix_notifications_client_reference", "client", "reference"),
    )

    id: str = Field(primary_key=True, max_length=64)  # ntf_...
    client: str = Field(max_length=255)  # the service client's `sub`; only it may read this
    template_id: str = Field(foreign_key="notification_templates.id", max_length=64, index=True)
    template_version: int
    email: str = Field(max_length=254)
    personalisation: dict[str, Any] = json_column("personalisation")
    reference: str | None = Field(default=None, max_length=255)
    delivery_id: int = Field(
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"),
            ForeignKey("deliveries.id"),
            nullable=False,
            unique=True,
        )
    )
    created_at: datetime = timestamp()
