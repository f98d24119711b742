"""Tables of payments_mock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from services.kit.sqltypes import JSONType, UTCDateTime


def _ts(*, nullable: bool = False, index: bool = False) -> Any:
    return Field(default=None, sa_column=Column(UTCDateTime(), nullable=nullable, index=index))


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_owner_id", "owner", "id"),
        Index("ix_payments_status_expires", "status", "expires_at"),
        Index("ix_payments_status_settles", "status", "settles_at"),
    )

    id: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=255)
    method: str = Field(max_length=16)
    status: str = Field(max_length=32)
    amount: int
    currency: str = Field(default="JPY", max_length=3)
    amount_refunded: int = 0
    description: str = Field(max_length=64)
    payer_name: str | None = Field(default=None, max_length=200)
    payer_email: str | None = Field(default=None, max_length=254)
    payer_phone: str | None = Field(default=None, max_length=32)
    reference: str | None = Field(default=None, max_length=255, index=True)
    metadata_: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column("metadata", JSONType, nullable=False)
    )
    barcode: str | None = Field(default=None, max_length=44, unique=True)
    paid_via: str | None = Field(default=None, max_length=32)  # chain, atm/net_banking, brand
    card_brand: str | None = Field(default=None, max_length=16)
    card_last4: str | None = Field(default=None, max_length=4)
    card_error: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONType))
    late: bool = False
    version: int = 0
    created_at: datetime = _ts()
    updated_at: datetime = _ts()
    expires_at: datetime = _ts()
    paid_at: datetime | None = _ts(nullable=True)
    received_at: datetime | None = _ts(nullable=True)  # when the 速報 reached us
    settles_at: datetime | None = _ts(nullable=True)
    settled_at: datetime | None = _ts(nullable=True)
    expired_at: datetime | None = _ts(nullable=True)
    canceled_at: datetime | None = _ts(nullable=True)


class PaymentCode(SQLModel, table=True):
    """The numbers a payer brings to a store or an ATM, for looking the payment up."""

    __tablename__ = "payment_codes"
    __table_args__ = (UniqueConstraint("kind", "code", name="uq_payment_codes_kind_code"),)

    id: int | None = Field(default=None, primary_key=True)
    payment_id: str = Field(foreign_key="payments.id", max_length=64, index=True)
    kind: str = Field(max_length=32)  # a chain, or "payeasy"
    code: str = Field(max_length=32)
    confirmation: str | None = Field(default=None, max_length=16)


class PaymentEvent(SQLModel, table=True):
    """Append-only history: one row per transition (and the creation)."""

    __tablename__ = "payment_events"
    __table_args__ = (UniqueConstraint("payment_id", "seq", name="uq_payment_events_seq"),)

    id: str = Field(primary_key=True, max_length=64)
    payment_id: str = Field(foreign_key="payments.id", max_length=64, index=True)
    seq: int
    type: str = Field(max_length=64)
    transition: str | None = Field(default=None, max_length=32)
    from_status: str | None = Field(default=None, max_length=32)
    to_status: str = Field(max_length=32)
    actor: str | None = Field(default=None, max_length=255)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSONType, nullable=False))
    occurred_at: datetime = _ts()


class Refund(SQLModel, table=True):
    __tablename__ = "refunds"

    id: str = Field(primary_key=True, max_length=64)
    payment_id: str = Field(foreign_key="payments.id", max_length=64, index=True)
    amount: int
    method: str = Field(max_length=16)  # bank_transfer | card
    status: str = Field(max_length=16)  # pending | completed
    reason: str | None = Field(default=None, max_length=200)
    created_at: datetime = _ts()
    completes_at: datetime = _ts(index=True)
    completed_at: datetime | None = _ts(nullable=True)


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: str = Field(primary_key=True, max_length=64)
    owner: str = Field(max_length=255, index=True)
    url: str = Field(max_length=2048)
    event_types: list[str] = Field(default_factory=list, sa_column=Column(JSONType, nullable=False))
    description: str | None = Field(default=None, max_length=200)
    status: str = Field(default="enabled", max_length=16)  # enabled | disabled | deleted
    secret: str = Field(max_length=128)
    previous_secret: str | None = Field(default=None, max_length=128)
    previous_secret_expires_at: datetime | None = _ts(nullable=True)
    created_at: datetime = _ts()
    updated_at: datetime = _ts()


class WebhookDelivery(SQLModel, table=True):
    """One event for one endpoint; retried through the outbox, every attempt logged."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_endpoint_id", "endpoint_id", "id"),)

    id: str = Field(primary_key=True, max_length=64)
    endpoint_id: str = Field(foreign_key="webhook_endpoints.id", max_length=64)
    event_id: str = Field(max_length=64, index=True)
    event_type: str = Field(max_length=64)
    payload: dict[str, Any] = Field(sa_column=Column(JSONType, nullable=False))
    status: str = Field(default="pending", max_length=16)  # pending | succeeded | failed
    attempts: int = 0
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _ts()
    delivered_at: datetime | None = _ts(nullable=True)


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempts"

    id: str = Field(primary_key=True, max_length=64)
    delivery_id: str = Field(foreign_key="webhook_deliveries.id", max_length=64, index=True)
    number: int
    attempted_at: datetime = _ts()
    status_code: int | None = None
    latency_ms: float
    error: str | None = Field(default=None, sa_column=Column(Text))
    succeeded: bool
