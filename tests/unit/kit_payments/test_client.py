"""PaymentsClient against the real payments_mock, through the real gateway: typed views with
the payment instructions, idempotent creates and refunds, and the provider's refusals as the
kit's problems."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.kit.errors import IllegalTransition, NotFound
from services.kit.payments import (
    PaymentMethod,
    PaymentRefused,
    PaymentStatus,
    PaymentsUnavailable,
    idempotency_key,
)
from tests.unit.kit_payments.conftest import Suite


async def test_a_konbini_payment_carries_every_chains_instructions(suite: Suite) -> None:
    payment = await suite.client.create_payment(
        idempotency_key=idempotency_key("app_01TEST", "fee"),
        amount=350,
        method=PaymentMethod.KONBINI,
        description="住民票の写し（デモ）",
        reference="app_01TEST",
        metadata={"application_id": "app_01TEST"},
        payer={"name": "山田 花子", "email": "hanako@example.jp", "phone": None},
        expires_after_days=7,
    )
    assert payment.status is PaymentStatus.AWAITING_PAYMENT
    assert payment.method is PaymentMethod.KONBINI
    assert (payment.amount, payment.reference) == (350, "app_01TEST")
    assert payment.metadata == {"application_id": "app_01TEST"}
    konbini = payment.konbini
    assert konbini is not None
    assert len(konbini.barcode) == 44
    assert konbini.barcode.isdigit()
    assert konbini.voucher_url.startswith("http")
    chains = {store.chain for store in konbini.stores}
    assert {"seven_eleven", "lawson", "familymart"} <= chains
    lawson = konbini.store("lawson")
    assert lawson is not None
    assert lawson.payment_code
    assert lawson.confirmation_number
    assert konbini.store("no_such_chain") is None
    assert payment.payeasy is None
    assert not payment.money_received
    assert not payment.is_final

    same = await suite.client.create_payment(
        idempotency_key="app_01TEST-fee",
        amount=350,
        method="konbini",
        description="住民票の写し（デモ）",
        reference="app_01TEST",
        metadata={"application_id": "app_01TEST"},
        payer={"name": "山田 花子", "email": "hanako@example.jp"},
        expires_after_days=7,
    )
    assert same.id == payment.id  # the same record asks for the same payment
    assert [p.id for p in await suite.client.find_by_reference("app_01TEST")] == [payment.id]
    assert (await suite.client.get_payment(payment.id)).konbini == konbini


async def test_a_payeasy_payment_carries_its_numbers(suite: Suite) -> None:
    payment = await suite.client.create_payment(
        idempotency_key="rsv-01PAYEASY",
        amount=1_200,
        method="payeasy",
        description="施設使用料（デモ）",
        reference="rsv_01PAYEASY",
    )
    assert payment.payeasy is not None
    numbers = payment.payeasy
    assert numbers.institution_number.isdigit()
    assert len(numbers.institution_number) == 5
    assert numbers.customer_number.isdigit()
    assert numbers.confirmation_number.isdigit()
    assert numbers.atm_steps
    assert payment.konbini is None


async def test_the_providers_refusals_keep_their_meaning(suite: Suite) -> None:
    with pytest.raises(PaymentRefused) as refused:
        await suite.client.create_payment(
            idempotency_key="bad-amount", amount=2_000_000, method="konbini", description="x"
        )
    assert refused.value.status == 422
    assert refused.value.extensions["errors"]

    await suite.client.create_payment(
        idempotency_key="app_01TEST-fee-2", amount=100, method="konbini", description="a"
    )
    with pytest.raises(PaymentRefused) as reused:
        await suite.client.create_payment(
            idempotency_key="app_01TEST-fee-2", amount=200, method="konbini", description="a"
        )
    assert reused.value.extensions["upstream"] == "idempotency-key-reused"

    with pytest.raises(NotFound):
        await suite.client.get_payment("pay_01ARZ3NDEKTSV4RRFFQ69G5FAV")
    with pytest.raises(NotFound):
        await suite.client.get_payment("../v1/webhook-endpoints")  # never leaves the path

    payment = await suite.charge("fee_cancel1")
    await suite.pay_konbini(payment)
    with pytest.raises(IllegalTransition) as illegal:
        await suite.client.cancel(payment.id)
    assert illegal.value.status == 409
    assert illegal.value.current_state == "paid"

    unpaid = await suite.charge("fee_cancel2")
    canceled = await suite.client.cancel(unpaid.id, reason="申請の取下げ")
    assert canceled.status is PaymentStatus.CANCELED
    assert canceled.is_final


async def test_refunds_are_idempotent_and_refuse_a_stale_view(suite: Suite) -> None:
    payment = await suite.charge("fee_refund1", method="card", card_number="4242424242424242")
    assert payment.status is PaymentStatus.PAID
    assert payment.card is not None
    assert payment.card.last4 == "4242"
    # Refunds begin once the money is settled (some business days later).
    await suite.advance_payments_clock(timedelta(days=10))
    runs = await suite.payments_runtime.scheduler.run_due(force=True)
    assert all(run.ok for run in runs), runs
    settled = await suite.client.get_payment(payment.id)
    assert settled.status is PaymentStatus.SETTLED
    assert settled.amount_refundable == 300

    with pytest.raises(PaymentRefused) as stale:
        await suite.client.refund(
            payment.id, amount=100, expected_refundable=250, idempotency_key="fee_refund1-r1"
        )
    assert stale.value.extensions["refundable"] == 300

    first = await suite.client.refund(
        payment.id, amount=100, expected_refundable=300, idempotency_key="fee_refund1-r1"
    )
    replay = await suite.client.refund(
        payment.id, amount=100, expected_refundable=300, idempotency_key="fee_refund1-r1"
    )
    assert first.status is PaymentStatus.PARTIALLY_REFUNDED
    assert replay.amount_refunded == first.amount_refunded == 100  # not refunded twice
    assert len((await suite.client.get_payment(payment.id)).refunds) == 1


async def test_the_provider_or_the_gateway_down_is_a_retryable_error(suite: Suite) -> None:
    payment = await suite.charge("fee_net1")
    await suite.payments.stop()
    try:
        with pytest.raises(PaymentsUnavailable) as provider_down:
            await suite.client.get_payment(payment.id)
    finally:
        await suite.payments.start()
    assert provider_down.value.retryable
    assert provider_down.value.status == 503

    suite.demo_runtime.service_token.invalidate()
    await suite.gateway.stop()
    try:
        with pytest.raises(PaymentsUnavailable) as gateway_down:
            await suite.client.get_payment(payment.id)
    finally:
        await suite.gateway.start()
    assert gateway_down.value.retryable
    assert (await suite.client.get_payment(payment.id)).id == payment.id


def test_idempotency_keys_are_made_of_the_allowed_characters() -> None:
    assert idempotency_key("app_01J", "fee") == "app-01J-fee"
    long = idempotency_key("x" * 300)
    assert len(long) <= 255
    assert long == idempotency_key("x" * 300)
    assert long != idempotency_key("x" * 299 + "y")
    with pytest.raises(ValueError, match="non-empty"):
        idempotency_key("")
