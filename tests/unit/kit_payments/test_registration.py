"""The webhook endpoint: registered once, reused across restarts, healed when its secret or
the provider's record of it is lost, and never in the way of a start."""

from __future__ import annotations

import asyncio

from sqlalchemy import delete

from services.kit.payments import PaymentsUnavailable, payments_runtime, webhook_secret
from services.kit.tables import WebhookSubscription
from tests.unit.kit_payments.conftest import Suite


async def _stored(suite: Suite) -> WebhookSubscription:
    async with suite.demo_runtime.db.session(write=False) as session:
        row = await session.get(WebhookSubscription, "payments_mock")
    assert row is not None
    return row


async def _paid_through_webhook(suite: Suite, fee_id: str) -> None:
    payment = await suite.charge(fee_id)
    await suite.pay_konbini(payment)
    await suite.send_webhooks()
    assert await suite.fee_status(fee_id) == "paid"


async def test_a_restart_reuses_the_endpoint_and_its_secret(suite: Suite) -> None:
    await suite.register()
    first = await _stored(suite)
    assert first.url == f"{suite.demo.url}/webhooks/payments"
    async with suite.demo_instance() as app:
        assert await payments_runtime(app.state.runtime).registrar.ensure()
    again = await _stored(suite)
    assert (again.endpoint_id, again.secret) == (first.endpoint_id, first.secret)
    assert [e["id"] for e in await suite.endpoints()] == [first.endpoint_id]
    await _paid_through_webhook(suite, "fee_restart1")


async def test_a_lost_secret_rotates_on_the_same_endpoint(suite: Suite) -> None:
    await suite.register()
    first = await _stored(suite)
    async with suite.demo_runtime.db.session() as session:
        await session.exec(delete(WebhookSubscription))
    assert await suite.kit.registrar.ensure()
    healed = await _stored(suite)
    assert healed.endpoint_id == first.endpoint_id
    assert healed.secret is not None
    assert healed.secret != first.secret
    assert len(await suite.endpoints()) == 1
    await _paid_through_webhook(suite, "fee_rotated1")


async def test_an_endpoint_the_provider_forgot_is_registered_again(suite: Suite) -> None:
    await suite.register()
    first = await _stored(suite)
    assert first.endpoint_id is not None
    await suite.client.delete_endpoint(first.endpoint_id)
    assert await suite.endpoints() == []
    assert await suite.kit.registrar.ensure()
    renewed = await _stored(suite)
    assert renewed.endpoint_id != first.endpoint_id
    assert [e["id"] for e in await suite.endpoints()] == [renewed.endpoint_id]
    await _paid_through_webhook(suite, "fee_renewed1")


async def test_a_disabled_endpoint_is_enabled_again(suite: Suite) -> None:
    await suite.register()
    first = await _stored(suite)
    disabled = await suite.call(
        "PATCH", f"/v1/webhook-endpoints/{first.endpoint_id}", json={"enabled": False}
    )
    assert disabled.json()["status"] == "disabled"
    assert await suite.kit.registrar.ensure()
    [endpoint] = await suite.endpoints()
    assert endpoint["status"] == "enabled"
    await _paid_through_webhook(suite, "fee_enabled1")


async def test_two_replicas_starting_together_register_one_endpoint(suite: Suite) -> None:
    async with suite.demo_instance() as other:
        results = await asyncio.gather(
            suite.kit.registrar.ensure(), payments_runtime(other.state.runtime).registrar.ensure()
        )
    assert sorted(results) == [False, True]  # the second found the first one's lease
    assert len(await suite.endpoints()) == 1
    await _paid_through_webhook(suite, "fee_replicas1")


async def test_a_start_while_the_provider_is_down_registers_in_the_background(
    suite: Suite,
) -> None:
    await suite.payments.stop()
    try:
        raised = None
        try:
            await suite.kit.registrar.ensure()
        except PaymentsUnavailable as exc:
            raised = exc
        assert raised is not None
        assert raised.retryable
        async with suite.demo_instance(background=True) as app:  # the start does not fail
            registrar = payments_runtime(app.state.runtime).registrar
            assert not registrar.registered.is_set()
            await suite.payments.start()
            async with asyncio.timeout(60):  # a bound against hanging, not a speed check
                await registrar.registered.wait()
    finally:
        await suite.payments.start()
    async with suite.demo_runtime.db.session(write=False) as session:
        assert await webhook_secret(session) is not None
    assert len(await suite.endpoints()) == 1
    await _paid_through_webhook(suite, "fee_background1")
