"""alert_mail: 緊急情報発信システム / 防災・防犯メール."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.alert_mail.delivery.hooks import start_workers, stop_workers
from services.alert_mail.feeds.hooks import start_broadcaster, stop_broadcaster
from services.alert_mail.jobs import JOBS
from services.alert_mail.routes import (
    alerts,
    callups,
    deliveries,
    feeds,
    notifications,
    reference,
    subscriptions,
)
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
                "Registration-based disaster and crime-prevention mail (防災・防犯メール): "
                "double opt-in subscriptions, four-eyes alerts, fan-out over SMTP with "
                "per-recipient statuses, CAP 1.2 / Atom / server-sent-events feeds, "
                "transactional notices for other services and staff call-up (職員参集)."
            ),
            settings=settings,
            routers=[
                reference.router,
                subscriptions.router,
                alerts.router,
                deliveries.router,
                feeds.router,
                notifications.router,
                callups.router,
            ],
            migrations=MIGRATIONS,
            jobs=JOBS,
            on_startup=[start_workers, start_broadcaster],
            on_shutdown=[stop_broadcaster, stop_workers],
            options=options or RuntimeOptions(),
        )
    )
