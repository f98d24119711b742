"""Deliveries: one row per recipient mail, claimed in batches by sending workers.

An alert delivery is rendered from its alert and subscription at send time; every other mail
(confirmation links, notifications, staff call-ups) is stored rendered in `outgoing_messages`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Integer, Text, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from services.alert_mail.domain.delivery_status import QUEUED, DeliveryState
from services.alert_mail.models._columns import json_column, timestamp

# The sending queue and the batches in flight. Written as literals so the claim query can name
# them word for word, which both SQLite and PostgreSQL need before they use a partial index.
# Partial indexes keep the per-row index work of a 64,000-recipient alert small.
QUEUE_CONDITION = "status IN ({})".format(", ".join(f"'{s.value}'" for s in QUEUED))
IN_FLIGHT_CONDITION = f"status = '{DeliveryState.SENDING.value}'"


class OutgoingMessage(SQLModel, table=True):
    __tablename__ = "outgoing_messages"

    id: str = Field(primary_key=True, max_length=64)  # msg_...
    kind: str = Field(max_length=32)  # confirmation | manage-link | notification | callup
    subject: str = Field(max_length=998)
    text: str = Field(sa_column=Column(Text, nullable=False))
    html: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    headers: dict[str, Any] = json_column("headers")
    created_at: datetime = timestamp()


class Delivery(SQLModel, table=True):
    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "subscription_id", name="uq_deliveries_alert_subscription"),
        Index(
            "ix_deliveries_leases",
            "lease_until",
            sqlite_where=text(IN_FLIGHT_CONDITION),
            postgresql_where=text(IN_FLIGHT_CONDITION),
        ),
        Index("ix_deliveries_alert_status", "alert_id", "status"),
        Index(
            "ix_deliveries_queue",
            "priority",
            "next_attempt_at",
            "id",
            sqlite_where=text(QUEUE_CONDITION),
            postgresql_where=text(QUEUE_CONDITION),
        ),
    )

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    kind: str = Field(max_length=16)  # alert | message
    alert_id: str | None = Field(default=None, foreign_key="alerts.id", max_length=64)
    subscription_id: str | None = Field(
        default=None, foreign_key="subscriptions.id", max_length=64, index=True
    )
    message_id: str | None = Field(
        default=None, foreign_key="outgoing_messages.id", max_length=64, index=True
    )
    email: str = Field(max_length=254)
    language: str = Field(default="ja", max_length=8)
    priority: int = 0  # lower is sooner: 0 emergency, 1 alert, 2 notice
    # a DeliveryState: created | sending | delivered | ...-failure | cancelled | superseded
    status: str = Field(max_length=24)
    attempts: int = 0
    next_attempt_at: datetime = timestamp()
    lease_until: datetime | None = timestamp(nullable=True)  # a worker holds it until then
    worker: str | None = Field(default=None, max_length=64)
    last_code: int | None = None
    last_detail: str | None = Field(default=None, max_length=500)
    created_at: datetime = timestamp()
    updated_at: datetime = timestamp()
    delivered_at: datetime | None = timestamp(nullable=True)
