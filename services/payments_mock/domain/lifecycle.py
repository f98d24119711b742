"""The payment state machine (after KOMOJU and GOV.UK Pay), as a table.

    awaiting_payment --pay-->            paid            (速報: the store's immediate notice)
    awaiting_payment --expire-->         expired
    awaiting_payment --cancel-->         canceled
    expired          --late_pay-->       paid            (paid at the register just before the
                                                          deadline, notice arrived after it)
    paid             --settle-->         settled         (確報, some business days later)
    settled          --refund-->         refunded
    settled          --partial_refund--> partially_refunded
    partially_refunded --partial_refund--> partially_refunded
    partially_refunded --refund-->       refunded

Refunds start only once the money is settled, i.e. has reached the biller. Konbini and
Pay-easy money cannot go back through the store or the ATM, so those refunds are paid by bank
transfer; card refunds go back to the card.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from services.kit.errors import UnprocessableContent
from services.kit.state_machine import StateMachine


class PaymentState(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    SETTLED = "settled"
    EXPIRED = "expired"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    PARTIALLY_REFUNDED = "partially_refunded"


class Transition(StrEnum):
    PAY = "pay"
    LATE_PAY = "late_pay"
    SETTLE = "settle"
    EXPIRE = "expire"
    CANCEL = "cancel"
    REFUND = "refund"
    PARTIAL_REFUND = "partial_refund"


class Channel(StrEnum):
    KONBINI = "konbini"
    PAYEASY = "payeasy"
    CARD = "card"


class RefundMethod(StrEnum):
    BANK_TRANSFER = "bank_transfer"
    CARD = "card"


class RefundStatus(StrEnum):
    PENDING = "pending"  # a bank transfer on its way (some business days)
    COMPLETED = "completed"


_S, _T = PaymentState, Transition

PAYMENTS: StateMachine[PaymentState, Transition] = StateMachine(
    {
        (_S.AWAITING_PAYMENT, _T.PAY): _S.PAID,
        (_S.AWAITING_PAYMENT, _T.EXPIRE): _S.EXPIRED,
        (_S.AWAITING_PAYMENT, _T.CANCEL): _S.CANCELED,
        (_S.EXPIRED, _T.LATE_PAY): _S.PAID,
        (_S.PAID, _T.SETTLE): _S.SETTLED,
        (_S.SETTLED, _T.REFUND): _S.REFUNDED,
        (_S.SETTLED, _T.PARTIAL_REFUND): _S.PARTIALLY_REFUNDED,
        (_S.PARTIALLY_REFUNDED, _T.PARTIAL_REFUND): _S.PARTIALLY_REFUNDED,
        (_S.PARTIALLY_REFUNDED, _T.REFUND): _S.REFUNDED,
    }
)


class EventType(StrEnum):
    """What webhook subscribers and the history see."""

    CREATED = "payment.created"
    PAID = "payment.paid"
    SETTLED = "payment.settled"
    EXPIRED = "payment.expired"
    CANCELED = "payment.canceled"
    REFUNDED = "payment.refunded"
    PARTIALLY_REFUNDED = "payment.partially_refunded"


# A late payment is still a payment: subscribers get payment.paid, with the late flag in data.
EVENT_TYPES: dict[Transition, EventType] = {
    _T.PAY: EventType.PAID,
    _T.LATE_PAY: EventType.PAID,
    _T.SETTLE: EventType.SETTLED,
    _T.EXPIRE: EventType.EXPIRED,
    _T.CANCEL: EventType.CANCELED,
    _T.REFUND: EventType.REFUNDED,
    _T.PARTIAL_REFUND: EventType.PARTIALLY_REFUNDED,
}

FINAL_STATES = PAYMENTS.final_states()  # canceled, refunded
# The states in which the money has reached the biller and may still go back.
REFUNDABLE_STATES = PAYMENTS.states_allowing(_T.PARTIAL_REFUND)


def _onwards(states: frozenset[PaymentState]) -> frozenset[PaymentState]:
    reached = set(states)
    while grown := {PAYMENTS.apply(s, t) for s in reached for t in PAYMENTS.allowed(s)} - reached:
        reached |= grown
    return frozenset(reached)


# Refunds are asked for in a refundable state, so only from there on can a payment have any:
# reading a new, paid or expired payment needs no refunds query.
MAY_HAVE_REFUNDS = _onwards(REFUNDABLE_STATES)


def event_type(transition: Transition) -> EventType:
    return EVENT_TYPES[transition]


def is_late(transition: Transition) -> bool:
    return transition is _T.LATE_PAY


def refund_method_for(channel: Channel) -> RefundMethod:
    return RefundMethod.CARD if channel is Channel.CARD else RefundMethod.BANK_TRANSFER


@dataclass(frozen=True, slots=True)
class RefundPlan:
    amount: int
    transition: Transition
    method: RefundMethod
    refundable_after: int


def check_refund(
    amount_paid: int,
    amount_refunded_so_far: int,
    requested: int,
    expected_refundable: int,
    *,
    channel: Channel,
) -> RefundPlan:
    """Guard a refund request against stale views and over-refunds.

    `expected_refundable` is what the caller believes is still refundable (GOV.UK Pay's
    `refund_amount_available`); a mismatch means another refund got in first.
    """
    if amount_paid < 1 or not 0 <= amount_refunded_so_far <= amount_paid:
        raise ValueError("stored amounts are inconsistent")
    refundable = amount_paid - amount_refunded_so_far
    if expected_refundable != refundable:
        raise UnprocessableContent(
            f"refundable amount is {refundable} yen, not {expected_refundable}",
            field="expected_refundable",
            refundable=refundable,
        )
    if requested < 1:
        raise UnprocessableContent("a refund is at least 1 yen", field="amount")
    if requested > refundable:
        raise UnprocessableContent(
            f"only {refundable} yen can still be refunded", field="amount", refundable=refundable
        )
    remaining = refundable - requested
    return RefundPlan(
        amount=requested,
        transition=_T.REFUND if remaining == 0 else _T.PARTIAL_REFUND,
        method=refund_method_for(channel),
        refundable_after=remaining,
    )
