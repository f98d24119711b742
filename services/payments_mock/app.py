"""payments_mock: a payment provider with コンビニ収納, ペイジー and card payments."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.kit.app import RuntimeOptions, ServiceSpec, create_service_app
from services.payments_mock.routes import payment_methods
from services.payments_mock.settings import Settings

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, options: RuntimeOptions | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        ServiceSpec(
            name="payments_mock",
            title="cityhall payments_mock (コンビニ収納)",
            description=(
                "A mock payment provider: convenience-store slips with the GS1-128 barcode, "
                "Pay-easy, test cards, signed webhooks and settlement."
            ),
            settings=settings,
            routers=[payment_methods.router],
            migrations=MIGRATIONS,
            options=options or RuntimeOptions(),
        )
    )
