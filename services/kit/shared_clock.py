"""One simulated time for every process of a service (replicas, `cityhall worker`).

The offset lives in the service's own database (`kit_sim_clock`, one row): the service's
`/sim/clock` raises it there in the same request that moves its own clock, and every process
on that database follows it, reading it at start and then every `clock_poll_seconds`. The
database is the one thing all of a service's processes already share, on SQLite and on
PostgreSQL, with no broker to run; a poll is one primary-key read. The row only ever grows
(`offset < new` in the UPDATE), so two replicas moving it at once keep the later time, and a
restarted process comes back at the simulated time its database's rows were stamped with."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select

from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.tables import SimulationClock
from services.kit.tasks import cancel_and_wait

log = logging.getLogger("cityhall.clock")

_ROW = 1


def _micros(offset: timedelta) -> int:
    return offset // timedelta(microseconds=1)


async def stored_offset(db: Database) -> timedelta:
    async with db.session(write=False) as session:
        found = await session.exec(
            select(SimulationClock.offset_microseconds).where(col(SimulationClock.id) == _ROW)
        )
        micros = found.first()
    return timedelta(microseconds=micros or 0)


async def store_offset(db: Database, offset: timedelta, now: datetime) -> None:
    """Raises the shared offset to `offset` (never lowers it)."""
    async with db.session() as session:
        await session.exec(
            update(SimulationClock)
            .where(
                col(SimulationClock.id) == _ROW,
                col(SimulationClock.offset_microseconds) < _micros(offset),
            )
            .values(offset_microseconds=_micros(offset), updated_at=now)
        )


class ClockFollower:
    """Keeps `clock` at the shared offset; `on_move` callbacks run when it moved (e.g. wake a
    worker, whose due work just changed)."""

    def __init__(self, db: Database, clock: Clock, interval: float) -> None:
        self.db = db
        self.clock = clock
        self.interval = interval
        self.on_move: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None

    async def refresh(self) -> bool:
        moved = self.clock.follow(await stored_offset(self.db))
        if moved:
            for callback in self.on_move:
                callback()
        return moved

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.refresh()
            except Exception:
                log.warning("cannot read the shared simulation clock", exc_info=True)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="cityhall-clock-follower")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
