"""`PaymentsIntegration`: the pieces a fee-charging service wires into its `ServiceSpec`
(webhook route, reconciler job, start/stop hooks) and the `Payments` dependency for routes.
See the package docstring for the wiring."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request

from services.kit.app import ServiceRuntime
from services.kit.errors import AppError
from services.kit.jobs import Job, JobContext
from services.kit.payments.client import PaymentsClient
from services.kit.payments.reconciler import PendingPayments, Reconciler, reconcile_job
from services.kit.payments.registration import WebhookRegistrar
from services.kit.payments.webhooks import PaymentEventHandler, webhook_router
from services.kit.settings import PAYMENTS_WEBHOOK_PATH
from services.kit.tasks import cancel_and_wait

log = logging.getLogger("cityhall.payments")

EXTRAS_KEY = "kit.payments"


@dataclass(slots=True)
class PaymentsRuntime:
    """What a running service holds for payments (in `runtime.extras`)."""

    client: PaymentsClient
    registrar: WebhookRegistrar
    reconciler: Reconciler
    registration: asyncio.Task[None] | None = None


def payments_runtime(runtime: ServiceRuntime) -> PaymentsRuntime:
    held = runtime.extras.get(EXTRAS_KEY)
    if not isinstance(held, PaymentsRuntime):
        raise RuntimeError("PaymentsIntegration.start is not among the service's on_startup hooks")
    return held


async def _client(request: Request) -> PaymentsClient:
    return payments_runtime(request.app.state.runtime).client


Payments = Annotated[PaymentsClient, Depends(_client)]


@dataclass(frozen=True, slots=True)
class PaymentsIntegration:
    on_event: PaymentEventHandler
    pending: PendingPayments
    description: str = "cityhall service fees"
    reconcile_every: timedelta = timedelta(minutes=5)
    reconcile_batch: int = 100
    path: str = PAYMENTS_WEBHOOK_PATH
    job_name: str = "kit.payments.reconcile"

    def router(self) -> APIRouter:
        return webhook_router(self.on_event, path=self.path)

    def job(self) -> Job:
        async def register_lazily(context: JobContext) -> None:
            # Without the background task (tests, `background=False`), or while it still
            # retries, each run tries once more; the reconcile itself needs no webhook.
            registrar = payments_runtime(context.state.runtime).registrar
            if not registrar.registered.is_set():
                try:
                    await registrar.ensure()
                except AppError as exc:
                    log.warning("webhook registration still pending: %s", exc.detail)

        return reconcile_job(
            lambda context: payments_runtime(context.state.runtime).reconciler,
            every=self.reconcile_every,
            name=self.job_name,
            before=register_lazily,
        )

    async def start(self, app: FastAPI, runtime: ServiceRuntime) -> None:
        """on_startup hook: the client once per app; registration in the background."""
        settings = runtime.settings
        client = PaymentsClient(
            runtime.http, base_url=settings.payments_url, token=runtime.service_token
        )
        registrar = WebhookRegistrar(
            runtime.db,
            runtime.clock,
            client,
            url=settings.payments_webhook_url,
            description=f"{self.description} ({settings.service_name})",
        )
        reconciler = Reconciler(
            runtime.db,
            runtime.clock,
            client,
            pending=self.pending,
            handler=self.on_event,
            batch=self.reconcile_batch,
        )
        held = PaymentsRuntime(client=client, registrar=registrar, reconciler=reconciler)
        if runtime.background:
            held.registration = asyncio.create_task(
                registrar.run_until_registered(), name="cityhall-payments-registration"
            )
        runtime.extras[EXTRAS_KEY] = held

    async def stop(self, app: FastAPI, runtime: ServiceRuntime) -> None:
        held = runtime.extras.pop(EXTRAS_KEY, None)
        if isinstance(held, PaymentsRuntime):
            await cancel_and_wait(held.registration)
