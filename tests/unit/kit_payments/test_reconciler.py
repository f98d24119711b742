"""A lost webhook never strands a record: the reconciler reads the history back and applies
what the service missed, once, even when the webhook arrives at the same time."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from services.kit.payments import PaymentsUnavailable
from tests.unit.kit_payments.conftest import Suite


async def test_a_webhook_lost_while_the_service_was_down_is_recovered_then_deduped(
    suite: Suite,
) -> None:
    await suite.register()
    payment = await suite.charge("fee_lost1")
    await suite.send_webhooks()
    await suite.demo.stop()  # the service is unreachable: the paid webhook cannot arrive
    await suite.pay_konbini(payment)
    await suite.send_webhooks()
    [endpoint] = await suite.endpoints()
    [delivery] = await suite.deliveries(endpoint["id"], "payment.paid")
    assert delivery["status"] == "pending"
    assert delivery["last_status_code"] is None  # connection refused
    assert await suite.fee_status("fee_lost1") == "awaiting_payment"

    report = await suite.kit.reconciler.run_once()
    assert (report.checked, report.applied, report.failed) == (1, 1, 0)
    assert await suite.fee_status("fee_lost1") == "paid"
    assert await suite.applied_events(payment.id) == [
        ("payment.created", "awaiting_payment", "webhook"),
        ("payment.paid", "paid", "reconciler"),
    ]
    again = await suite.kit.reconciler.run_once()
    assert (again.checked, again.applied) == (0, 0)  # paid: no longer on the pending list

    # The service is back; the provider's retry arrives and is acknowledged, not re-applied.
    await suite.demo.start()
    await suite.advance_payments_clock(timedelta(minutes=2))
    await suite.send_webhooks()
    [retried] = await suite.deliveries(endpoint["id"], "payment.paid")
    assert retried["status"] == "succeeded"
    assert await suite.applied_count(delivery["event_id"]) == 1


async def test_the_reconciler_job_applies_an_expiry_nobody_was_told_about(suite: Suite) -> None:
    """No endpoint registered at all (the provider was down at start): the job still moves
    the record, and registers the endpoint lazily on the way."""
    payment = await suite.charge("fee_exp1", expires_after_days=1)
    await suite.advance_payments_clock(timedelta(days=3))
    runs = await suite.payments_runtime.scheduler.run_due(force=True)
    assert all(run.ok for run in runs), runs
    assert (await suite.client.get_payment(payment.id)).status == "expired"

    assert await suite.endpoints() == []
    runs = await suite.demo_runtime.scheduler.run_due(force=True)
    assert next(r for r in runs if r.name == "kit.payments.reconcile").ok
    assert await suite.fee_status("fee_exp1") == "expired"
    assert [e[:2] for e in await suite.applied_events(payment.id)] == [
        ("payment.created", "awaiting_payment"),
        ("payment.expired", "expired"),
    ]
    assert len(await suite.endpoints()) == 1  # registered by the job's lazy retry
    assert suite.kit.registrar.registered.is_set()


async def test_a_webhook_and_the_reconciler_racing_on_one_event_apply_it_once(
    suite: Suite,
) -> None:
    await suite.register()
    payments = [await suite.charge(f"fee_race{i}") for i in range(4)]
    await suite.send_webhooks()
    for payment in payments:
        await suite.pay_konbini(payment)
    _, report = await asyncio.gather(suite.send_webhooks(), suite.kit.reconciler.run_once())
    assert report.checked == 4
    [endpoint] = await suite.endpoints()
    paid = await suite.deliveries(endpoint["id"], "payment.paid")
    assert len(paid) == 4
    for delivery in paid:
        assert await suite.applied_count(delivery["event_id"]) == 1
    for i in range(4):
        assert await suite.fee_status(f"fee_race{i}") == "paid"
    by_webhook = 0
    for payment in payments:
        sources = [e[2] for e in await suite.applied_events(payment.id) if e[0] == "payment.paid"]
        assert len(sources) == 1
        by_webhook += sources == ["webhook"]
    assert report.applied + by_webhook == 4  # each event once, by whichever came first


async def test_the_provider_down_ends_a_run_with_a_retryable_error(suite: Suite) -> None:
    await suite.register()
    await suite.charge("fee_down1")
    await suite.payments.stop()
    try:
        raised = None
        try:
            await suite.kit.reconciler.run_once()
        except PaymentsUnavailable as exc:
            raised = exc
        assert raised is not None
        assert raised.retryable
        assert raised.status == 503
    finally:
        await suite.payments.start()
    assert (await suite.kit.reconciler.run_once()).checked == 1
