"""e_application: 電子申請 / かんたん申請・申込."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.e_application.routes import procedures
from services.e_application.settings import Settings
from services.kit.app import RuntimeOptions, ServiceSpec, create_service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, options: RuntimeOptions | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        ServiceSpec(
            name="e_application",
            title="cityhall e_application (電子申請)",
            description=(
                "Online procedures (電子申請・かんたん申請), from anonymous inquiries to "
                "JPKI-identified filings, with a staff case workflow."
            ),
            settings=settings,
            routers=[procedures.router],
            migrations=MIGRATIONS,
            options=options or RuntimeOptions(),
        )
    )
