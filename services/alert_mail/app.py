"""alert_mail: 緊急情報発信システム / 防災・防犯メール."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.alert_mail.routes import reference
from services.alert_mail.settings import Settings
from services.kit.app import RuntimeOptions, ServiceSpec, create_service_app

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, options: RuntimeOptions | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        ServiceSpec(
            name="alert_mail",
            title="cityhall alert_mail (防災・防犯メール)",
            description=(
                "Registration-based disaster and crime-prevention mail (防災・防犯メール), "
                "CAP 1.2 feeds and transactional notices for other services."
            ),
            settings=settings,
            routers=[reference.router],
            migrations=MIGRATIONS,
            options=options or RuntimeOptions(),
        )
    )
