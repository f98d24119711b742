"""Scheduled work of alert_mail, registered with the kit scheduler."""

from __future__ import annotations

from datetime import timedelta

from services.alert_mail.delivery.hooks import WORKERS
from services.kit.jobs import Job, JobContext


async def _send_due(context: JobContext) -> None:
    """A safety net behind the workers' own polling, and what `POST /sim/tick` uses to send
    retries that came due when the simulation clock moved (with background tasks off too)."""
    workers = context.state.runtime.extras.get(WORKERS) or []
    if workers:
        await workers[0].run_once()


SEND_DUE = Job(name="alert_mail.deliveries.send_due", every=timedelta(seconds=5), run=_send_due)

JOBS: list[Job] = [SEND_DUE]
