"""A sending worker in its own process: `python -m services.alert_mail.worker`.

Settings come from the environment (ALERT_MAIL_DATABASE_URL, ALERT_MAIL_SMTP_HOST, ...), as
for the service. Any number may run at once beside the service (they claim disjoint batches),
each with its own database engine and SMTP pool. SIGTERM or SIGINT: the batches in hand are
finished (unsent rows handed back) and the process exits 0. The database must already be
migrated (the service does it on start). In simulation mode it keeps the service's simulated
time (kit.shared_clock), so `/sim/clock` makes its retries and expired leases due as well."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import logging
import signal
from collections.abc import Sequence

from services.alert_mail.delivery.worker import LANES, DeliveryWorker
from services.alert_mail.settings import Settings
from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.mailer import Mailer
from services.kit.shared_clock import ClockFollower

log = logging.getLogger("cityhall.alert_mail.worker")


async def serve(settings: Settings, *, lanes: int = LANES, name: str | None = None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # not on Windows
            loop.add_signal_handler(sig, stop.set)
    db = Database(settings.database_url, pool_size=settings.db_pool_size)
    mailer = Mailer(settings.smtp_host, settings.smtp_port, pool_size=settings.smtp_pool_size)
    clock = Clock()
    follower = None
    if settings.simulation:  # the service's /sim/clock moves this process's time too
        follower = ClockFollower(db, clock, settings.clock_poll_seconds)
        await follower.refresh()
    worker = DeliveryWorker(db, clock, settings, mailer, name=name, lanes=lanes)
    if follower is not None:
        follower.on_move.append(worker.wake)  # retries and leases may have fallen due
        follower.start()
    worker.start()
    log.info("alert_mail worker %s sending to %s:%s", worker.name, mailer.host, mailer.port)
    try:
        await stop.wait()
    finally:
        if follower is not None:
            await follower.stop()
        await worker.stop()
        await mailer.close()
        await db.dispose()
    log.info("alert_mail worker %s stopped", worker.name)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lanes", type=int, default=LANES, help="claim/send/record cycles")
    parser.add_argument("--name", help="worker name in the deliveries' `worker` column")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings()
    main_coroutine = serve(settings, lanes=max(args.lanes, 1), name=args.name)
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        uvloop.run(main_coroutine)
    else:  # pragma: no cover - uvloop is a dependency where it builds
        asyncio.run(main_coroutine)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
