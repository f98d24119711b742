"""Which alerts were stopped while a worker holds their deliveries, so it sends no more.

A later message that references an alert stops that alert's unsent mails: a Cancel cancels
them, an Update supersedes them (`STOP_BY`; CAP 1.2 §3.2.1). Either commits the alert's
`superseded_by` (and a Cancel its `cancelled_at`) and settles its deliveries still in the
queue; the ones a worker has claimed are that worker's to settle, with the same stop. It
learns of the stop three ways: from the claimed batch itself (an alert already stopped when it
was claimed), from the commit when the stop happened in its own process (`STOPPED_ALERTS` on
the session; the next send already knows), and, in any process, by re-reading the alerts of
the batch in hand every `worker_cancel_poll_seconds` while it sends. A send that has begun is
finished and stays `delivered`: the worker's record is fenced by its claim, and the stop
touches only deliveries no worker holds, so a mail is sent or stopped, never both."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.domain.delivery_status import DeliveryTransition, stop_of
from services.alert_mail.models import Alert
from services.kit.db import Database
from services.kit.tasks import cancel_and_wait

log = logging.getLogger("cityhall.alert_mail.worker")

# Put on the session by a transaction that stopped alerts: their ids and how they stopped.
STOPPED_ALERTS = "alert_mail.stopped_alerts"


def note_stopped(session: AsyncSession, alert_id: str, stop: DeliveryTransition) -> None:
    stopped: dict[str, DeliveryTransition] = session.info.setdefault(STOPPED_ALERTS, {})
    stopped[alert_id] = stop


def alert_stop(alert: Alert) -> DeliveryTransition | None:
    """How `alert`'s unsent mails are stopped, as its row records it (None: they are not)."""
    return stop_of(
        cancelled=alert.cancelled_at is not None, superseded=alert.superseded_by is not None
    )


def stops_of(alerts: Iterable[Alert]) -> list[tuple[str, DeliveryTransition]]:
    return [(a.id, stop) for a in alerts if (stop := alert_stop(a)) is not None]


class StopWatch:
    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = interval
        self._stopped: dict[str, DeliveryTransition] = {}
        self._news = asyncio.Event()

    def note(self, stops: Iterable[tuple[str, DeliveryTransition]]) -> None:
        """Learns of stopped alerts. A Cancel may follow an Update of the same alert (never
        the reverse), so a cancel heard replaces a supersede, whatever order the news came in."""
        before = len(self._stopped)
        for alert_id, stop in stops:
            if stop is DeliveryTransition.CANCEL or alert_id not in self._stopped:
                self._stopped[alert_id] = stop
        if len(self._stopped) > before:
            self._news.set()
            self._news = asyncio.Event()

    def heard(self, session: AsyncSession) -> None:
        """The commit hook: alerts this process's transaction just stopped."""
        stopped: dict[str, DeliveryTransition] = session.info.get(STOPPED_ALERTS, {})
        self.note(stopped.items())

    def stop_for(self, alert_id: str | None) -> DeliveryTransition | None:
        """How the mails of `alert_id` stop, once this worker knows they do."""
        return None if alert_id is None else self._stopped.get(alert_id)

    async def learned(self, alert_id: str) -> DeliveryTransition:
        """Returns once this worker knows `alert_id` is stopped, with how."""
        while (stop := self._stopped.get(alert_id)) is None:
            await self._news.wait()
        return stop

    @asynccontextmanager
    async def watching(self, alert_ids: Collection[str]) -> AsyncIterator[None]:
        """Polls the alerts of the batch in hand until the block ends."""
        if not alert_ids:
            yield
            return
        task = asyncio.create_task(self._poll(sorted(alert_ids)), name="alert-mail-stop-watch")
        try:
            yield
        finally:
            await cancel_and_wait(task)

    async def _poll(self, alert_ids: list[str]) -> None:
        cancelled, superseded = col(Alert.cancelled_at), col(Alert.superseded_by)
        query = select(Alert.id, cancelled.is_not(None), superseded.is_not(None)).where(
            col(Alert.id).in_(alert_ids), or_(cancelled.is_not(None), superseded.is_not(None))
        )
        while True:
            await asyncio.sleep(self.interval)
            try:
                async with self.db.session(write=False) as session:
                    rows = (await session.exec(query)).all()
                self.note(
                    (alert_id, stop)
                    for alert_id, is_cancelled, is_superseded in rows
                    if (stop := stop_of(cancelled=is_cancelled, superseded=is_superseded))
                )
            except Exception:
                log.warning("cannot look for stopped alerts", exc_info=True)
