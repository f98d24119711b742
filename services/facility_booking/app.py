"""facility_booking: 施設予約システム."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from fastapi import FastAPI

from services.facility_booking import fees_service
from services.facility_booking.jobs import JOBS
from services.facility_booking.payment_requests import REFUND_TOPIC
from services.facility_booking.routes import facilities, lotteries, registrations, reservations
from services.facility_booking.settings import Settings
from services.kit.app import RuntimeOptions, ServiceRuntime, ServiceSpec, create_service_app
from services.kit.notify import notify_handlers
from services.kit.outbox import OutboxHandler
from services.kit.payments import PaymentsIntegration

MIGRATIONS = Path(__file__).parent / "migrations"


def _handlers(runtime: ServiceRuntime) -> Mapping[str, OutboxHandler]:
    return {**notify_handlers(runtime), **fees_service.handlers(runtime)}


def create_app(settings: Settings | None = None, options: RuntimeOptions | None = None) -> FastAPI:
    settings = settings or Settings()
    fees = PaymentsIntegration(
        on_event=fees_service.on_payment_event,
        pending=fees_service.pending_payment_ids,
        description="facility usage fees",
    )
    return create_service_app(
        ServiceSpec(
            name="facility_booking",
            title="cityhall facility_booking (施設予約)",
            description=(
                "Public facility reservation (施設予約): facilities and their slot grid, user "
                "registration (利用者登録), lottery then first-come booking, weekly series, "
                "waitlist (キャンセル待ち), fees at payments_mock with tiered refunds, staff "
                "blocks and usage statistics. Every fee is fictional (デモ市)."
            ),
            settings=settings,
            routers=[
                facilities.router,
                registrations.router,
                reservations.router,
                lotteries.router,
                fees.router(),
            ],
            migrations=MIGRATIONS,
            jobs=[*JOBS, fees.job()],
            outbox_handlers=_handlers,
            outbox_policies={REFUND_TOPIC: fees_service.REFUND_POLICY},
            on_startup=[fees.start],
            on_shutdown=[fees.stop],
            options=options or RuntimeOptions(),
        )
    )
