from __future__ import annotations

import itertools

import pytest

from services.kit.errors import IllegalTransition, UnprocessableContent
from services.payments_mock.domain.lifecycle import (
    EVENT_TYPES,
    FINAL_STATES,
    PAYMENTS,
    REFUNDABLE_STATES,
    Channel,
    EventType,
    PaymentState,
    RefundMethod,
    Transition,
    check_refund,
    event_type,
    is_late,
)

S, T = PaymentState, Transition
apply = PAYMENTS.apply


def _field(error: UnprocessableContent) -> str:
    field: str = error.extensions["errors"][0]["field"]
    return field


def test_happy_path_konbini() -> None:
    state = S.AWAITING_PAYMENT
    for transition, expected in [
        (T.PAY, S.PAID),
        (T.SETTLE, S.SETTLED),
        (T.PARTIAL_REFUND, S.PARTIALLY_REFUNDED),
        (T.PARTIAL_REFUND, S.PARTIALLY_REFUNDED),
        (T.REFUND, S.REFUNDED),
    ]:
        state = apply(state, transition)
        assert state is expected


def test_late_payment_revives_an_expired_payment() -> None:
    state = apply(S.AWAITING_PAYMENT, T.EXPIRE)
    assert state is S.EXPIRED
    state = apply(state, T.LATE_PAY)
    assert state is S.PAID
    assert is_late(T.LATE_PAY)
    assert not is_late(T.PAY)
    assert event_type(T.LATE_PAY) == "payment.paid"
    assert apply(state, T.SETTLE) is S.SETTLED


def test_late_pay_only_from_expired() -> None:
    with pytest.raises(IllegalTransition):
        apply(S.AWAITING_PAYMENT, T.LATE_PAY)


@pytest.mark.parametrize(
    ("state", "transition"),
    [pair for pair in itertools.product(S, T) if pair not in PAYMENTS.table],
)
def test_every_pair_outside_the_table_is_illegal(
    state: PaymentState, transition: Transition
) -> None:
    with pytest.raises(IllegalTransition) as info:
        apply(state, transition)
    assert info.value.status == 409
    assert info.value.current_state == state.value
    assert info.value.extensions["current_state"] == state.value
    assert info.value.transition == transition.value


def test_strings_are_accepted_and_unknown_names_are_illegal() -> None:
    assert apply("awaiting_payment", "pay") is S.PAID
    with pytest.raises(IllegalTransition):
        apply("awaiting_payment", "teleport")
    with pytest.raises(IllegalTransition):
        apply("limbo", "pay")


def test_final_states_have_no_way_out() -> None:
    assert {S.CANCELED, S.REFUNDED} == FINAL_STATES
    for state in FINAL_STATES:
        assert PAYMENTS.allowed(state) == ()
    assert PAYMENTS.allowed(S.EXPIRED) == (T.LATE_PAY,)
    assert set(PAYMENTS.allowed(S.AWAITING_PAYMENT)) == {T.PAY, T.EXPIRE, T.CANCEL}
    assert {S.SETTLED, S.PARTIALLY_REFUNDED} == REFUNDABLE_STATES


def test_every_transition_has_an_event_type() -> None:
    assert set(EVENT_TYPES) == set(T)
    assert all(name.startswith("payment.") for name in EVENT_TYPES.values())
    assert set(EVENT_TYPES.values()) == set(EventType) - {EventType.CREATED}
    assert event_type(T.PARTIAL_REFUND) == "payment.partially_refunded"


@pytest.mark.parametrize(
    ("channel", "method"),
    [
        (Channel.KONBINI, RefundMethod.BANK_TRANSFER),
        (Channel.PAYEASY, RefundMethod.BANK_TRANSFER),
        (Channel.CARD, RefundMethod.CARD),
    ],
)
def test_refund_method_by_channel(channel: Channel, method: RefundMethod) -> None:
    plan = check_refund(1000, 0, 1000, 1000, channel=channel)
    assert plan.method is method


def test_full_and_partial_refund_plans() -> None:
    partial = check_refund(1000, 0, 300, 1000, channel=Channel.KONBINI)
    assert partial.transition is T.PARTIAL_REFUND
    assert partial.refundable_after == 700
    rest = check_refund(1000, 300, 700, 700, channel=Channel.KONBINI)
    assert rest.transition is T.REFUND
    assert rest.refundable_after == 0


def test_stale_expected_refundable_is_refused() -> None:
    with pytest.raises(UnprocessableContent) as info:
        check_refund(1000, 300, 100, 1000, channel=Channel.CARD)
    assert _field(info.value) == "expected_refundable"
    assert info.value.extensions["refundable"] == 700


@pytest.mark.parametrize("requested", [0, -5, 701])
def test_over_or_non_positive_refund_is_refused(requested: int) -> None:
    with pytest.raises(UnprocessableContent) as info:
        check_refund(1000, 300, requested, 700, channel=Channel.CARD)
    assert _field(info.value) == "amount"


def test_nothing_left_to_refund() -> None:
    with pytest.raises(UnprocessableContent) as info:
        check_refund(1000, 1000, 1, 0, channel=Channel.KONBINI)
    assert _field(info.value) == "amount"


@pytest.mark.parametrize(("paid", "refunded"), [(0, 0), (1000, -1), (1000, 1001)])
def test_inconsistent_stored_amounts_are_a_bug(paid: int, refunded: int) -> None:
    with pytest.raises(ValueError, match="inconsistent"):
        check_refund(paid, refunded, 1, paid - refunded, channel=Channel.CARD)
