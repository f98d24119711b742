"""Typed views of payments_mock's answers and events, as a paying service reads them.

Unknown fields are ignored, so payments_mock can grow its answers without breaking anyone;
the names follow its API (`PaymentRead`), which is where their meaning is documented."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class PaymentStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    SETTLED = "settled"
    EXPIRED = "expired"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class PaymentMethod(StrEnum):
    KONBINI = "konbini"
    PAYEASY = "payeasy"
    CARD = "card"


class PaymentEventType(StrEnum):
    CREATED = "payment.created"
    PAID = "payment.paid"  # late payments too (`late` in the data)
    SETTLED = "payment.settled"
    EXPIRED = "payment.expired"
    CANCELED = "payment.canceled"
    REFUNDED = "payment.refunded"
    PARTIALLY_REFUNDED = "payment.partially_refunded"


# Money has reached the biller (or is on its way from the store): the fee counts as paid.
MONEY_RECEIVED = frozenset({PaymentStatus.PAID, PaymentStatus.SETTLED})
# Nothing more will happen to these; an expired payment may still be paid late (速報 after
# the deadline), so it is not final and stays on the reconciler's list until the service
# decides otherwise.
FINAL_STATUSES = frozenset({PaymentStatus.CANCELED, PaymentStatus.REFUNDED})


class _View(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class KonbiniStore(_View):
    """One chain's instructions: what the payer types or shows at the register."""

    chain: str
    chain_name: str
    payment_code: str
    payment_code_label: str
    confirmation_number: str | None = None
    confirmation_label: str | None = None
    steps: list[str] = Field(default_factory=list)


class KonbiniInstructions(_View):
    barcode: str = Field(description="the 44 digits of the GS1-128 barcode")
    barcode_human_readable: str
    voucher_url: str = Field(description="a printable 払込票 with the barcode")
    deadline_ja: str
    stores: list[KonbiniStore]

    def store(self, chain: str) -> KonbiniStore | None:
        return next((s for s in self.stores if s.chain == chain), None)


class PayEasyInstructions(_View):
    institution_number: str = Field(description="収納機関番号")
    customer_number: str = Field(description="お客様番号")
    confirmation_number: str = Field(description="確認番号")
    atm_steps: list[str] = Field(default_factory=list)
    net_banking_steps: list[str] = Field(default_factory=list)


class CardError(_View):
    kind: str
    decline_code: str | None = None
    message_ja: str | None = None
    retryable: bool


class CardView(_View):
    brand: str | None = None
    last4: str | None = None
    last_error: CardError | None = None


class Refund(_View):
    id: str
    amount: int
    method: str
    status: Literal["pending", "completed"]
    reason: str | None = None
    created_at: datetime
    completes_at: datetime
    completed_at: datetime | None = None


class Payment(_View):
    id: str
    status: PaymentStatus
    method: PaymentMethod
    amount: int
    currency: str = "JPY"
    amount_refunded: int = 0
    amount_refundable: int = 0
    description: str
    reference: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    late: bool = False
    paid_via: str | None = None
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    paid_at: datetime | None = None
    settled_at: datetime | None = None
    expired_at: datetime | None = None
    canceled_at: datetime | None = None
    allowed_transitions: list[str] = Field(default_factory=list)
    konbini: KonbiniInstructions | None = None
    payeasy: PayEasyInstructions | None = None
    card: CardView | None = None
    refunds: list[Refund] = Field(default_factory=list)

    @property
    def money_received(self) -> bool:
        return self.status in MONEY_RECEIVED

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


class PaymentEvent(_View):
    """What the service's handler receives, from a signed webhook or from the reconciler.

    `id` is the provider's event id (the `webhook-id`), the dedupe key of both paths, so an
    event is applied once whichever arrives first. `status` is the status this event moved the
    payment to; `payment` is a snapshot taken at the event (webhook) or later (reconciler), so
    compare statuses, never assume the events arrive in order."""

    id: str
    type: PaymentEventType
    status: PaymentStatus
    occurred_at: datetime
    payment: Payment
    data: dict[str, Any] = Field(
        default_factory=dict, description="event details: late, paid_via, refund_amount ..."
    )
    source: Literal["webhook", "reconciler"]

    @property
    def payment_id(self) -> str:
        return self.payment.id

    @property
    def reference(self) -> str | None:
        return self.payment.reference

    @property
    def metadata(self) -> dict[str, Any]:
        return self.payment.metadata

    @property
    def amount(self) -> int:
        return self.payment.amount


class PaymentPage(_View):
    items: list[Payment]
    next_cursor: str | None = None


class ProviderEvent(_View):
    """One entry of a payment's history at the provider (`GET /v1/payments/{id}/events`)."""

    id: str
    payment_id: str
    seq: int
    type: str
    from_status: str | None = None
    to_status: str
    data: dict[str, Any] = Field(default_factory=dict)
    occurred_at: datetime


class ProviderEventPage(_View):
    items: list[ProviderEvent]
    next_cursor: str | None = None


class WebhookEndpoint(_View):
    id: str
    url: str
    status: str
    secret: str | None = None
