"""Which alerts were cancelled while a worker holds their deliveries, so it sends no more.

A Cancel commits the alert's `cancelled_at` and settles its deliveries still in the queue; the
ones a worker has claimed are that worker's to settle. It learns of the cancel three ways:
from the claimed batch itself (an alert already cancelled when it was claimed), from the
commit when the cancel happened in its own process (`CANCELLED_ALERTS` on the session; the
next send already knows), and, in any process, by re-reading the alerts of the batch in hand
every `worker_cancel_poll_seconds` while it sends. A send that has begun is finished and
stays `delivered`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Collection, Iterable
from contextlib import asynccontextmanager

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail.models import Alert
from services.kit.db import Database
from services.kit.tasks import cancel_and_wait

log = logging.getLogger("cityhall.alert_mail.worker")

# Put on the session by a transaction that cancelled alerts: a set of their ids.
CANCELLED_ALERTS = "alert_mail.cancelled_alerts"


def note_cancelled(session: AsyncSession, alert_id: str) -> None:
    session.info.setdefault(CANCELLED_ALERTS, set()).add(alert_id)


class CancelWatch:
    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = interval
        self._cancelled: set[str] = set()
        self._news = asyncio.Event()

    def note(self, alert_ids: Iterable[str]) -> None:
        before = len(self._cancelled)
        self._cancelled.update(alert_ids)
        if len(self._cancelled) > before:
            self._news.set()
            self._news = asyncio.Event()

    def heard(self, session: AsyncSession) -> None:
        """The commit hook: alerts this process's transaction just cancelled."""
        self.note(session.info.get(CANCELLED_ALERTS, ()))

    def is_cancelled(self, alert_id: str | None) -> bool:
        return alert_id is not None and alert_id in self._cancelled

    async def learned(self, alert_id: str) -> None:
        """Returns once this worker knows `alert_id` is cancelled."""
        while alert_id not in self._cancelled:
            await self._news.wait()

    @asynccontextmanager
    async def watching(self, alert_ids: Collection[str]) -> AsyncIterator[None]:
        """Polls the alerts of the batch in hand until the block ends."""
        if not alert_ids:
            yield
            return
        task = asyncio.create_task(self._poll(sorted(alert_ids)), name="alert-mail-cancel-watch")
        try:
            yield
        finally:
            await cancel_and_wait(task)

    async def _poll(self, alert_ids: list[str]) -> None:
        query = select(Alert.id).where(
            col(Alert.id).in_(alert_ids), col(Alert.cancelled_at).is_not(None)
        )
        while True:
            await asyncio.sleep(self.interval)
            try:
                async with self.db.session(write=False) as session:
                    self.note((await session.exec(query)).all())
            except Exception:
                log.warning("cannot look for cancelled alerts", exc_info=True)
