"""The kit's own tables, present in every service database (kit Alembic history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Index, Text
from sqlmodel import Field, SQLModel

from services.kit.sqltypes import JSONType, UTCDateTime


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "kit_outbox"
    __table_args__ = (Index("ix_kit_outbox_due", "status", "next_attempt_at"),)

    id: str = Field(primary_key=True, max_length=64)
    topic: str = Field(max_length=64, index=True)
    destination: str | None = Field(default=None, max_length=2048)
    payload: dict[str, Any] = Field(sa_column=Column(JSONType, nullable=False))
    headers: dict[str, str] = Field(
        default_factory=dict, sa_column=Column(JSONType, nullable=False)
    )
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    max_attempts: int = 8
    next_attempt_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


class InboxMessage(SQLModel, table=True):
    """Message ids a consumer has processed: redelivered messages are dropped."""

    __tablename__ = "kit_inbox"

    message_id: str = Field(primary_key=True, max_length=255)
    source: str = Field(max_length=64)
    received_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class IdempotencyRecord(SQLModel, table=True):
    __tablename__ = "kit_idempotency"

    scope: str = Field(primary_key=True, max_length=255)
    key: str = Field(primary_key=True, max_length=255)
    request_hash: str = Field(max_length=64)
    state: str = Field(default="in_flight", max_length=16)
    response_status: int | None = None
    response_body: str | None = Field(default=None, sa_column=Column(Text))
    # JSON [[name, value], ...] of the headers a replay repeats (kit.idempotency.PER_EXCHANGE
    # are left out); NULL when there were none.
    response_headers: str | None = Field(default=None, sa_column=Column(Text))
    locked_until: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    created_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))


class JobState(SQLModel, table=True):
    """One row per scheduled job: whoever moves `next_run_at` forward owns that run."""

    __tablename__ = "kit_jobs"

    name: str = Field(primary_key=True, max_length=128)
    next_run_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    last_run_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    last_error: str | None = Field(default=None, sa_column=Column(Text))


class WebhookSubscription(SQLModel, table=True):
    """The endpoint this service registered at a webhook provider (payments_mock), with the
    signing secret it verifies deliveries with. `claimed_until` is the lease of the replica
    currently (re)registering, so two replicas never register twice."""

    __tablename__ = "kit_webhook_subscriptions"

    provider: str = Field(primary_key=True, max_length=64)
    endpoint_id: str | None = Field(default=None, max_length=64)
    url: str | None = Field(default=None, max_length=2048)
    secret: str | None = Field(default=None, sa_column=Column(Text))
    claimed_until: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    registered_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))


class SimulationClock(SQLModel, table=True):
    """The service's one simulation offset, shared by every process on its database (service
    replicas, `cityhall worker`): `/sim/clock` raises it, every process follows it."""

    __tablename__ = "kit_sim_clock"

    id: int = Field(default=1, primary_key=True)
    offset_microseconds: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    updated_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))
