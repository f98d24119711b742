"""Start and stop the in-process sending workers with the service.

`settings.workers_in_process` workers share one SMTP pool; every commit of the service wakes
them (fan-out, confirmation mails, notifications), and they poll when idle. With
`RuntimeOptions(background=False)` none is started; tests then drive `delivery_worker(app)
.run_once()` themselves. The first worker is always built, so that `run_once` exists."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.delivery.worker import DeliveryWorker
from services.alert_mail.settings import Settings
from services.kit.app import ServiceRuntime
from services.kit.mailer import Mailer

WORKERS = "alert_mail.workers"
MAILER = "alert_mail.mailer"


def delivery_worker(app: FastAPI) -> DeliveryWorker:
    """The service's first sending worker (for tests and simulation ticks)."""
    runtime: ServiceRuntime = app.state.runtime
    workers: list[DeliveryWorker] = runtime.extras[WORKERS]
    return workers[0]


def _waker(worker: DeliveryWorker) -> Callable[[AsyncSession], None]:
    def wake(_session: AsyncSession) -> None:
        worker.wake()

    return wake


async def start_workers(app: FastAPI, runtime: ServiceRuntime) -> None:
    settings = runtime.settings
    assert isinstance(settings, Settings)
    mailer = Mailer(settings.smtp_host, settings.smtp_port, pool_size=settings.smtp_pool_size)
    count = max(settings.workers_in_process, 1)
    workers = [DeliveryWorker(runtime.db, runtime.clock, settings, mailer) for _ in range(count)]
    runtime.extras[MAILER] = mailer
    runtime.extras[WORKERS] = workers
    for worker in workers:
        runtime.db.on_commit(_waker(worker))
        runtime.db.on_commit(worker.stops.heard)
    if runtime.background and settings.workers_in_process > 0:
        for worker in workers:
            worker.start()


async def stop_workers(app: FastAPI, runtime: ServiceRuntime) -> None:
    for worker in runtime.extras.pop(WORKERS, []):
        await worker.stop()
    mailer: Mailer | None = runtime.extras.pop(MAILER, None)
    if mailer is not None:
        await mailer.close()
