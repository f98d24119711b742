"""Request and response models of payments_mock (separate from the tables)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.kit.schemas import WriteModel
from services.payments_mock.domain.konbini import Chain
from services.payments_mock.domain.lifecycle import (
    Channel,
    EventType,
    PaymentState,
    RefundMethod,
    RefundStatus,
)
from services.payments_mock.domain.methods import MAX_CARD_AMOUNT, MAX_SLIP_AMOUNT
from services.payments_mock.domain.webhook_states import DeliveryStatus

Text = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Digits = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class PaymentMethodRead(BaseModel):
    method: Channel
    name_ja: str
    min_amount: int
    max_amount: int
    chains: list[Chain] = []


# --- payments ------------------------------------------------------------------------------


class Payer(WriteModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    email: (
        Annotated[str, StringConstraints(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
        | None
    ) = None
    phone: Annotated[str, StringConstraints(max_length=32, pattern=r"^\+?[0-9-]{6,31}$")] | None = (
        None
    )


class CardInput(WriteModel):
    number: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(
        description="a test card number (see the API description)"
    )


class PaymentCreate(WriteModel):
    amount: int = Field(
        ge=1,
        le=MAX_CARD_AMOUNT,
        description=(
            f"yen: 1–{MAX_SLIP_AMOUNT:,} for konbini and payeasy (the barcode's amount field; "
            f"real stores refuse above 300,000 yen per slip), 1–{MAX_CARD_AMOUNT:,} for cards"
        ),
    )
    currency: Literal["JPY"] = "JPY"
    method: Channel
    description: Annotated[str, StringConstraints(min_length=1, max_length=22)] = Field(
        description="shown at the store register and on the voucher (at most 22 characters)"
    )
    payer: Payer = Field(default_factory=Payer)
    reference: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        None, description="the caller's own reference, e.g. its application number"
    )
    metadata: dict[
        Annotated[str, StringConstraints(min_length=1, max_length=40)],
        Annotated[str, StringConstraints(max_length=500)],
    ] = Field(default_factory=dict, max_length=50)
    expires_after_days: int | None = Field(
        None, ge=1, le=60, description="calendar days after today (JST); default 3"
    )
    expires_at: datetime | date | None = Field(
        None, description="the last day to pay; the payment expires at 23:59:59 JST that day"
    )
    card: CardInput | None = Field(None, description="for method card: the card to charge")


class CardAttemptCreate(WriteModel):
    card: CardInput


class CancelCreate(WriteModel):
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


class RefundCreate(WriteModel):
    amount: int = Field(ge=1, le=MAX_CARD_AMOUNT)
    expected_refundable: int = Field(
        ge=0,
        le=MAX_CARD_AMOUNT,
        description="what the caller believes is still refundable; a mismatch is refused",
    )
    reason: Annotated[str, StringConstraints(max_length=200)] | None = None


class PayerRead(BaseModel):
    name: str | None
    email: str | None
    phone: str | None


class KonbiniStore(BaseModel):
    model_config = ConfigDict(frozen=True)  # built once per payment and shared by reads

    chain: Chain
    chain_name: str
    payment_code: str
    payment_code_label: str
    confirmation_number: str | None
    confirmation_label: str | None
    steps: list[str]


class KonbiniDetails(BaseModel):
    model_config = ConfigDict(frozen=True)

    barcode: str = Field(description="the 44 digits of the GS1-128 convenience-store barcode")
    barcode_human_readable: str
    voucher_url: str
    deadline_ja: str
    stores: list[KonbiniStore]


class PayEasyDetails(BaseModel):
    model_config = ConfigDict(frozen=True)

    institution_number: str = Field(description="収納機関番号")
    customer_number: str = Field(description="お客様番号")
    confirmation_number: str = Field(description="確認番号")
    atm_steps: list[str]
    net_banking_steps: list[str]


class CardError(BaseModel):
    kind: Literal["declined", "network_error"]
    decline_code: str | None = None
    message_ja: str | None = None
    retryable: bool


class CardDetails(BaseModel):
    brand: str | None
    last4: str | None
    last_error: CardError | None = None


class RefundRead(BaseModel):
    id: str
    amount: int
    method: RefundMethod
    status: RefundStatus
    reason: str | None
    created_at: datetime
    completes_at: datetime
    completed_at: datetime | None


class PaymentRead(BaseModel):
    id: str
    object: Literal["payment"] = "payment"
    status: PaymentState
    method: Channel
    amount: int
    currency: Literal["JPY"]
    amount_refunded: int
    amount_refundable: int
    description: str
    payer: PayerRead
    reference: str | None
    metadata: dict[str, Any]
    late: bool = Field(description="paid at the register before expiry, notice arrived after it")
    paid_via: str | None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    paid_at: datetime | None
    received_at: datetime | None
    settles_at: datetime | None
    settled_at: datetime | None
    expired_at: datetime | None
    canceled_at: datetime | None
    allowed_transitions: list[str]
    konbini: KonbiniDetails | None = None
    payeasy: PayEasyDetails | None = None
    card: CardDetails | None = None
    refunds: list[RefundRead] = []


class PaymentList(BaseModel):
    items: list[PaymentRead]
    next_cursor: str | None = None


class PaymentEventRead(BaseModel):
    id: str
    payment_id: str
    seq: int
    type: str
    transition: str | None
    from_status: str | None
    to_status: str
    actor: str | None
    data: dict[str, Any]
    occurred_at: datetime


class PaymentEventList(BaseModel):
    items: list[PaymentEventRead]
    next_cursor: str | None = None


# --- simulation ----------------------------------------------------------------------------


class KonbiniPayCreate(WriteModel):
    chain: Chain
    barcode: Digits | None = Field(None, description="the 44 digits scanned at the register")
    payment_code: Digits | None = None
    confirmation_number: Digits | None = None
    paid_at: datetime | None = Field(
        None, description="when the payer paid at the register; default now"
    )


class PayEasyPayCreate(WriteModel):
    institution_number: Digits
    customer_number: Digits
    confirmation_number: Digits
    channel: Literal["atm", "net_banking"] = "atm"


class RegisterReceipt(BaseModel):
    """What the store's register or the bank hands the payer: the payment and the money, never
    the biller's record (no payer, reference or metadata)."""

    object: Literal["receipt"] = "receipt"
    payment_id: str
    method: Channel
    paid_via: str = Field(description="the store chain, or `atm` / `net_banking` for Pay-easy")
    amount: int
    currency: Literal["JPY"]
    paid_at: datetime = Field(description="when the payer paid")
    received_at: datetime = Field(description="when the store's notice reached payments_mock")
    late: bool = Field(description="the notice arrived after the payment had expired")


class LatePaymentCreate(WriteModel):
    chain: Chain = Chain.SEVEN_ELEVEN
    minutes_before_expiry: int = Field(
        1, ge=0, le=24 * 60, description="when the payer paid, counted back from the deadline"
    )


# --- webhook endpoints ---------------------------------------------------------------------


class WebhookEndpointCreate(WriteModel):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)]
    event_types: list[EventType] = Field(
        default_factory=lambda: list(EventType), min_length=1, max_length=len(EventType)
    )
    description: Annotated[str, StringConstraints(max_length=200)] | None = None


class WebhookEndpointUpdate(WriteModel):
    url: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    event_types: list[EventType] | None = Field(None, min_length=1, max_length=len(EventType))
    description: Annotated[str, StringConstraints(max_length=200)] | None = None
    enabled: bool | None = None


class SecretRotate(WriteModel):
    grace_period_hours: int | None = Field(
        None, ge=0, le=24 * 30, description="how long the old secret still signs; default 24"
    )


class WebhookEndpointRead(BaseModel):
    id: str
    url: str
    event_types: list[str]
    description: str | None
    status: Literal["enabled", "disabled"]
    previous_secret_expires_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WebhookEndpointSecret(WebhookEndpointRead):
    secret: str = Field(description="whsec_… (Standard Webhooks); shown only here")


class WebhookEndpointList(BaseModel):
    items: list[WebhookEndpointRead]
    next_cursor: str | None = None


class WebhookAttemptRead(BaseModel):
    number: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None
    succeeded: bool


class WebhookDeliveryRead(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempt_log: list[WebhookAttemptRead] = []


class WebhookDeliveryList(BaseModel):
    items: list[WebhookDeliveryRead]
    next_cursor: str | None = None


# --- settlements ---------------------------------------------------------------------------


class SettlementLine(BaseModel):
    channel: Channel
    via: str | None = Field(description="the chain, atm/net_banking, or the card brand")
    paid_count: int
    paid_amount: int
    settled_count: int
    settled_amount: int
    refunded_amount: int


class SettlementTotals(BaseModel):
    paid_count: int
    paid_amount: int
    settled_count: int
    settled_amount: int
    refunded_amount: int


class SettlementReport(BaseModel):
    date: date
    timezone: Literal["Asia/Tokyo"] = "Asia/Tokyo"
    lines: list[SettlementLine]
    totals: SettlementTotals


class Discrepancy(BaseModel):
    kind: Literal["late_payment", "refund_pending"]
    payment_id: str
    reference: str | None
    amount: int
    expires_at: datetime | None = None
    paid_at: datetime | None = None
    received_at: datetime | None = None
    refund_id: str | None = None
    completes_at: datetime | None = None


class DiscrepancyReport(BaseModel):
    items: list[Discrepancy]
