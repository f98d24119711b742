"""facility_booking: 施設予約システム."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.facility_booking.routes import facilities
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
                "Public facility reservation (施設予約): availability, user registration, "
                "lottery then first-come, usage fees."
            ),
            settings=settings,
            routers=[facilities.router],
            migrations=MIGRATIONS,
            options=options or RuntimeOptions(),
        )
    )
