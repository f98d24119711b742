"""A small scheduler for periodic work, safe with several replicas.

Each job has a row in `kit_jobs`; a replica owns a run when its compare-and-set moves
`next_run_at` forward, so two replicas never run the same due slot. Time comes from the
service clock, so moving the simulation clock makes jobs due; `POST /sim/tick` runs them now.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.tables import JobState
from services.kit.tasks import cancel_and_wait

log = logging.getLogger("cityhall.jobs")


@dataclass(frozen=True, slots=True)
class JobContext:
    db: Database
    clock: Clock
    state: Any  # the app's state, for jobs that need a client or settings


@dataclass(frozen=True, slots=True)
class Job:
    name: str
    every: timedelta
    run: Callable[[JobContext], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class JobRun:
    name: str
    ok: bool
    error: str | None = None


class Scheduler:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        jobs: Sequence[Job],
        *,
        state: Any = None,
        poll_interval: float = 1.0,
    ) -> None:
        names = [job.name for job in jobs]
        if len(names) != len(set(names)):
            raise ValueError(f"job names must be unique: {names}")
        self.db = db
        self.clock = clock
        self.jobs = list(jobs)
        self.context = JobContext(db=db, clock=clock, state=state)
        self.poll_interval = poll_interval
        self._task: asyncio.Task[None] | None = None
        self._run_lock = asyncio.Lock()

    async def _claim(self, job: Job, *, force: bool) -> bool:
        now = self.clock.now()
        if not force:  # look without the write lock first: most polls find nothing due
            async with self.db.session(write=False) as session:
                seen = await session.get(JobState, job.name)
                if seen is not None and seen.next_run_at > now:
                    return False
        try:
            async with self.db.session() as session:
                row = await session.get(JobState, job.name)
                if row is None:
                    session.add(
                        JobState(name=job.name, next_run_at=now + job.every, last_run_at=now)
                    )
                    return True
                if not force and row.next_run_at > now:
                    return False
                result = await session.exec(
                    update(JobState)
                    .where(col(JobState.name) == job.name)
                    .where(col(JobState.next_run_at) == row.next_run_at)
                    .values(next_run_at=now + job.every, last_run_at=now)
                )
                return bool(getattr(result, "rowcount", 0) == 1)
        except IntegrityError:
            return False  # another replica inserted the row first and owns this run

    async def _record_error(self, job: Job, error: str | None) -> None:
        async with self.db.session() as session:
            await session.exec(
                update(JobState).where(col(JobState.name) == job.name).values(last_error=error)
            )

    async def run_due(self, *, force: bool = False) -> list[JobRun]:
        """Run every job that is due (all of them with `force`); returns what ran."""
        runs: list[JobRun] = []
        async with self._run_lock:
            for job in self.jobs:
                if not await self._claim(job, force=force):
                    continue
                try:
                    await job.run(self.context)
                except Exception as exc:
                    log.exception("job %s failed", job.name)
                    error = f"{type(exc).__name__}: {exc}"
                    await self._record_error(job, error)
                    runs.append(JobRun(job.name, ok=False, error=error))
                else:
                    await self._record_error(job, None)  # a success clears the last failure
                    runs.append(JobRun(job.name, ok=True))
        return runs

    async def _loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:
                log.exception("scheduler pass failed")
            await asyncio.sleep(self.poll_interval)

    def start(self) -> None:
        if self.jobs and self._task is None:
            self._task = asyncio.create_task(self._loop(), name="cityhall-scheduler")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
