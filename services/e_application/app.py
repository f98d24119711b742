"""e_application: 電子申請 / かんたん申請・申込."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.e_application.jobs import JOBS
from services.e_application.routes import applications, casework, fees, procedures
from services.e_application.routes.deps import build_runtime_parts
from services.e_application.settings import Settings
from services.kit.app import RuntimeOptions, ServiceSpec, create_service_app
from services.kit.notify import notify_handlers

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings | None = None, options: RuntimeOptions | None = None) -> FastAPI:
    settings = settings or Settings()
    return create_service_app(
        ServiceSpec(
            name="e_application",
            title="cityhall e_application (電子申請)",
            description=(
                "Online procedures (電子申請・かんたん申請), from anonymous inquiries to "
                "JPKI-signed filings: a versioned catalogue with JSON Schema forms, drafts, "
                "submissions with reference numbers and access codes, attachments, and the "
                "staff case workflow (受付 → 審査 → 差戻し/補正 → 決裁 → 交付), fees paid at "
                "payments_mock and notices mailed through alert_mail."
            ),
            settings=settings,
            # Literal paths (/queue, /counter, /mine, /status) before /{application_id}.
            routers=[
                procedures.router,
                casework.queue_router,
                applications.router,
                casework.router,
                fees.router,
                fees.PAYMENTS.router(),
            ],
            migrations=MIGRATIONS,
            jobs=[*JOBS, fees.PAYMENTS.job()],
            outbox_handlers=notify_handlers,
            on_startup=[build_runtime_parts, fees.PAYMENTS.start],
            on_shutdown=[fees.PAYMENTS.stop],
            options=options or RuntimeOptions(),
        )
    )
