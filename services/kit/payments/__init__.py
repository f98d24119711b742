"""Fees through payments_mock: a typed client, the signed-webhook intake with dedupe, the
endpoint registration and the reconciler, written once for every service that charges.

How a service wires it (e_application, facility_booking)::

    # settings: nothing to add. `payments_url` (default: the gateway), `payments_webhook_url`
    # (default http://<host>:<port>/webhooks/payments: set it when the service listens on
    # 0.0.0.0 or behind another name) and `notify_url` come from ServiceSettings.
    # gateway/settings.py: the service's client needs payments:write, payments:read,
    # webhooks:manage (and notifications:send for mail).

    # fees_service.py: the two callbacks, plain functions over a session
    async def on_payment_event(session: AsyncSession, event: PaymentEvent, now: datetime) -> None:
        fee = await find_fee_by_payment(session, event.payment_id)   # or event.reference
        if fee is None:
            return                                  # not ours (another record, a test)
        if event.status in MONEY_RECEIVED:          # paid / settled, whichever comes first
            ...  # a conditional UPDATE moving the record (paid → issue / confirm), flush()
        elif event.status is PaymentStatus.EXPIRED:
            ...
        # Called once per event id, in the same transaction as the inbox row: raise to have
        # the event retried; never commit here.

    async def pending_payment_ids(
        session: AsyncSession, after: str | None, limit: int
    ) -> Sequence[str]:
        # payment ids of records still waiting, ascending, after the cursor, at most `limit`
        ...

    # app.py
    fees = PaymentsIntegration(
        on_event=fees_service.on_payment_event, pending=fees_service.pending_payment_ids
    )
    create_service_app(ServiceSpec(
        ...,
        routers=[..., fees.router()],            # POST /webhooks/payments (Public, signed)
        jobs=[*JOBS, fees.job()],                 # the reconciler, every 5 minutes
        on_startup=[fees.start],                  # client + background registration
        on_shutdown=[fees.stop],
        outbox_handlers=notify_handlers,          # services.kit.notify, for mail
    ))

    # a route charging a fee
    async def submit(..., session: SessionDep, payments: Payments, clock: ClockDep):
        payment = await payments.create_payment(
            idempotency_key=idempotency_key(application.id, "fee"),  # same record → same key
            amount=300, method="konbini", description="住民票の写し 交付手数料",
            reference=application.id, metadata={"application_id": application.id},
            payer={"name": ..., "email": ...}, expires_after_days=7,
        )
        application.payment_id = payment.id      # keep it: the reconciler lists these
        # show payment.konbini.stores[*].payment_code / confirmation_number,
        # payment.konbini.voucher_url, or payment.payeasy.* on the record
        await enqueue_notification(session, template_id="tpl_payments_due", ..., now=clock.now())

Create the payment BEFORE the record commits its payment id, with a key derived from the
record, so a retried request finds the same payment. Errors: `PaymentRefused` (422, the
request's content), `NotFound`, `IllegalTransition` (409 naming the state) keep their
meaning; `PaymentsUnavailable` (503, `retryable`) when payments_mock or the gateway is down.

Tests: `background=False` runs no registration task; call
`await payments_runtime(runtime).registrar.ensure()` and
`await payments_runtime(runtime).reconciler.run_once()` (or `/sim/tick`)."""

from services.kit.payments.client import PaymentsClient, idempotency_key
from services.kit.payments.errors import (
    PaymentRefused,
    PaymentsMisconfigured,
    PaymentsUnavailable,
)
from services.kit.payments.integration import (
    Payments,
    PaymentsIntegration,
    PaymentsRuntime,
    payments_runtime,
)
from services.kit.payments.reconciler import PendingPayments, Reconciler, ReconcileReport
from services.kit.payments.registration import WebhookRegistrar, webhook_secret
from services.kit.payments.views import (
    FINAL_STATUSES,
    MONEY_RECEIVED,
    KonbiniInstructions,
    KonbiniStore,
    PayEasyInstructions,
    Payment,
    PaymentEvent,
    PaymentEventType,
    PaymentMethod,
    PaymentStatus,
)
from services.kit.payments.webhooks import PaymentEventHandler, webhook_router

__all__ = [
    "FINAL_STATUSES",
    "MONEY_RECEIVED",
    "KonbiniInstructions",
    "KonbiniStore",
    "PayEasyInstructions",
    "Payment",
    "PaymentEvent",
    "PaymentEventHandler",
    "PaymentEventType",
    "PaymentMethod",
    "PaymentRefused",
    "PaymentStatus",
    "Payments",
    "PaymentsClient",
    "PaymentsIntegration",
    "PaymentsMisconfigured",
    "PaymentsRuntime",
    "PaymentsUnavailable",
    "PendingPayments",
    "ReconcileReport",
    "Reconciler",
    "WebhookRegistrar",
    "idempotency_key",
    "payments_runtime",
    "webhook_router",
    "webhook_secret",
]
