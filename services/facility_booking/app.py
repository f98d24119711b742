"""facility_booking: 施設予約システム."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.facility_booking.jobs import JOBS
from services.facility_booking.routes import facilities, lotteries, registrations, reservations
from services.facility_booking.settings import Settings
from services.kit.app import RuntimeOptions, ServiceSpec, create_service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, options: RuntimeOptions | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        ServiceSpec(
            name="facility_booking",
            title="cityhall facility_booking (施設予約)",
            description=(
                "Public facility reservation (施設予約): facilities and their slot grid, user "
                "registration (利用者登録), lottery then first-come booking, weekly series, "
                "waitlist (キャンセル待ち), tiered refunds, staff blocks and usage statistics. "
                "Every fee is fictional (デモ市)."
            ),
            settings=settings,
            routers=[
                facilities.router,
                registrations.router,
                reservations.router,
                lotteries.router,
            ],
            migrations=MIGRATIONS,
            jobs=JOBS,
            options=options or RuntimeOptions(),
        )
    )
