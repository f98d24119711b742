"""Pushes each newly sent alert to every open `GET /v1/stream`.

Woken in-process right after a commit that sent an alert, and polling the database every
`poll_interval` so alerts sent by another replica reach this replica's streams too. A client
has a bounded queue: one that falls behind is dropped (its stream ends; it reconnects with
`Last-Event-ID` and is replayed from the database), so a slow reader never holds up the rest.

An alert's `sent_at` is set before its transaction commits, so a poll may see alerts out of
`sent_at` order; each poll therefore looks back `lookback` behind the newest alert seen and
skips the ids it already announced."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from services.alert_mail.feeds.store import in_district, latest_sent_at, sent_since
from services.alert_mail.models import Alert
from services.kit.db import Database
from services.kit.tasks import cancel_and_wait, wait_event

log = logging.getLogger("cityhall.alert_mail.stream")

Summary = dict[str, Any]


@dataclass(eq=False)
class Listener:
    """One open stream. `None` in the queue ends it."""

    queue: asyncio.Queue[Summary | None]
    category: str | None = None
    district: str | None = None
    dropped: bool = False

    def wants(self, alert: Alert) -> bool:
        if self.category is not None and alert.category != self.category:
            return False
        return in_district(alert, self.district)


@dataclass
class Broadcaster:
    db: Database
    render: Callable[[Alert], Summary]
    poll_interval: float = 1.0
    queue_size: int = 100
    lookback: timedelta = timedelta(minutes=5)
    listeners: set[Listener] = field(default_factory=set)
    _seen: dict[str, datetime] = field(default_factory=dict)
    _watermark: datetime | None = None
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Alerts sent before the start are history (replayed on request), not news."""
        await self._poll(announce=False)
        self._task = asyncio.create_task(self._run(), name="alert-broadcaster")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        for listener in list(self.listeners):
            self._close(listener)

    def wake(self) -> None:
        self._wake.set()

    def subscribe(self, *, category: str | None = None, district: str | None = None) -> Listener:
        listener = Listener(asyncio.Queue(self.queue_size), category, district)
        self.listeners.add(listener)
        return listener

    def unsubscribe(self, listener: Listener) -> None:
        self.listeners.discard(listener)

    async def _run(self) -> None:
        while True:
            await wait_event(self._wake, self.poll_interval)
            self._wake.clear()
            try:
                await self._poll(announce=True)
            except Exception:  # the database may be briefly away; streams stay open
                log.exception("alert stream poll failed")

    async def _poll(self, *, announce: bool) -> None:
        since = self._watermark - self.lookback if self._watermark is not None else None
        async with self.db.session(write=False) as session:
            if self._watermark is None and not announce:
                latest = await latest_sent_at(session)
                since = latest - self.lookback if latest is not None else None
            fresh = [a for a in await sent_since(session, since) if a.id not in self._seen]
        for alert in fresh:
            if alert.sent_at is None:
                continue
            self._seen[alert.id] = alert.sent_at
            if self._watermark is None or alert.sent_at > self._watermark:
                self._watermark = alert.sent_at
            if announce:
                self.publish(alert)
        if self._watermark is not None:
            horizon = self._watermark - self.lookback
            self._seen = {k: v for k, v in self._seen.items() if v >= horizon}

    def publish(self, alert: Alert) -> None:
        summary = self.render(alert)
        for listener in list(self.listeners):
            if not listener.wants(alert):
                continue
            try:
                listener.queue.put_nowait(summary)
            except asyncio.QueueFull:
                log.warning("dropping a stream client %d events behind", self.queue_size)
                listener.dropped = True
                self._close(listener)

    def _close(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        while not listener.queue.empty():
            listener.queue.get_nowait()
        listener.queue.put_nowait(None)
