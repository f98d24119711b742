"""payments_mock: a payment provider with コンビニ収納, ペイジー and card payments."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI

from services.kit.app import RuntimeOptions, ServiceRuntime, ServiceSpec, create_service_app
from services.kit.outbox import OutboxHandler
from services.payments_mock.jobs import JOBS
from services.payments_mock.routes import (
    payment_methods,
    payments,
    settlements,
    simulate,
    vouchers,
    webhook_endpoints,
)
from services.payments_mock.settings import Settings
from services.payments_mock.webhooks_service import WEBHOOK_POLICY, WEBHOOK_TOPIC, WebhookSender

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, options: RuntimeOptions | None = None) -> FastAPI:
    settings = settings or Settings()

    def handlers(runtime: ServiceRuntime) -> Mapping[str, OutboxHandler]:
        sender = WebhookSender(runtime.db, runtime.clock, runtime.http, settings)
        return {WEBHOOK_TOPIC: sender.handler()}

    return create_service_app(
        ServiceSpec(
            name="payments_mock",
            title="cityhall payments_mock (コンビニ収納)",
            description=(
                "A mock payment provider: convenience-store slips with the GS1-128 barcode, "
                "Pay-easy, test cards, signed webhooks (Standard Webhooks) and settlement. "
                "Konbini amounts go up to 999,999 yen (the barcode's field); real stores refuse "
                "more than 300,000 yen per slip. Scopes: payments:write (create, cancel, "
                "refund), payments:read (read), webhooks:manage (webhook endpoints)."
            ),
            settings=settings,
            routers=[
                payment_methods.router,
                payments.router,
                vouchers.router,
                webhook_endpoints.router,
                simulate.router,
                settlements.router,
            ],
            migrations=MIGRATIONS,
            jobs=JOBS,
            outbox_handlers=handlers,
            outbox_policies={WEBHOOK_TOPIC: WEBHOOK_POLICY},
            options=options or RuntimeOptions(),
        )
    )
