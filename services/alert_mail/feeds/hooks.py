"""Start and stop the alert broadcaster behind `GET /v1/stream` with the service."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.alert_reads import to_public
from services.alert_mail.alerts_service import ALERT_SENT_FLAG
from services.alert_mail.feeds.broadcaster import Broadcaster
from services.alert_mail.models import Alert
from services.alert_mail.settings import Settings
from services.kit.app import ServiceRuntime


async def start_broadcaster(app: FastAPI, runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)

    def render(alert: Alert) -> dict[str, Any]:
        return to_public(settings, alert).model_dump(mode="json")

    broadcaster = Broadcaster(
        runtime.db,
        render,
        poll_interval=settings.stream_poll_seconds,
        queue_size=settings.stream_queue_size,
    )

    def wake_after_send(session: AsyncSession) -> None:
        if session.info.get(ALERT_SENT_FLAG):
            broadcaster.wake()

    runtime.db.on_commit(wake_after_send)
    await broadcaster.start()
    app.state.broadcaster = broadcaster


async def stop_broadcaster(app: FastAPI, runtime: ServiceRuntime) -> None:
    broadcaster: Broadcaster | None = getattr(app.state, "broadcaster", None)
    if broadcaster is not None:
        await broadcaster.stop()
