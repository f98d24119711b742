"""The scheduler: compare-and-set claims, replicas never share a due slot, a simulated clock
makes jobs due, failures are recorded (and cleared by the next success)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.jobs import Job, JobContext, Scheduler
from services.kit.tables import JobState

HOUR = timedelta(hours=1)


class Counting:
    def __init__(self, fail: bool = False) -> None:
        self.runs = 0
        self.fail = fail
        self.ran = asyncio.Event()

    async def __call__(self, context: JobContext) -> None:
        self.runs += 1
        self.ran.set()
        await asyncio.sleep(0.005)  # a run takes time: replicas overlap
        if self.fail:
            raise ValueError("sweep failed")


async def state(db: Database, name: str) -> JobState:
    async with db.session(write=False) as session:
        row = await session.get(JobState, name)
        assert row is not None
        return row


async def test_a_job_runs_when_first_seen_and_then_each_period(
    db: Database, stopped_clock: Clock
) -> None:
    clock = stopped_clock
    sweep = Counting()
    scheduler = Scheduler(db, clock, [Job("sweep", HOUR, sweep)])
    assert [r.name for r in await scheduler.run_due()] == ["sweep"]
    assert await scheduler.run_due() == []  # not due again yet
    clock.advance(HOUR - timedelta(seconds=1))
    assert await scheduler.run_due() == []
    clock.advance(timedelta(seconds=1))
    assert [r.ok for r in await scheduler.run_due()] == [True]
    assert sweep.runs == 2
    row = await state(db, "sweep")
    assert row.next_run_at > clock.now() + HOUR - timedelta(seconds=5)
    assert row.last_run_at is not None


async def test_force_runs_a_job_that_is_not_due(db: Database, clock: Clock) -> None:
    sweep = Counting()
    scheduler = Scheduler(db, clock, [Job("sweep", HOUR, sweep)])
    await scheduler.run_due()
    assert [r.name for r in await scheduler.run_due(force=True)] == ["sweep"]
    assert sweep.runs == 2


async def test_two_replicas_never_run_the_same_due_slot(db: Database, clock: Clock) -> None:
    sweep = Counting()
    jobs = [Job("sweep", HOUR, sweep)]
    replicas = [Scheduler(db, clock, jobs), Scheduler(db, clock, jobs)]
    for slot in range(1, 11):
        runs = await asyncio.gather(*(replica.run_due() for replica in replicas))
        assert sum(len(r) for r in runs) == 1, f"slot {slot}: {runs}"
        assert sweep.runs == slot
        clock.advance(HOUR)


async def test_the_claim_is_a_compare_and_set(db: Database, clock: Clock) -> None:
    job = Job("sweep", HOUR, Counting())
    first, second = Scheduler(db, clock, [job]), Scheduler(db, clock, [job])
    assert await first._claim(job, force=False)  # creates the row: this replica owns the run
    clock.advance(HOUR)
    assert await first._claim(job, force=False)  # moves next_run_at forward
    assert not await second._claim(job, force=False)  # the slot is gone
    claims = await asyncio.gather(*(s._claim(job, force=True) for s in (first, second) * 5))
    assert claims.count(True) >= 1
    assert await state(db, "sweep")


async def test_failures_are_recorded_and_cleared_by_a_success(
    db: Database, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    sweep = Counting(fail=True)
    healthy = Counting()
    scheduler = Scheduler(db, clock, [Job("sweep", HOUR, sweep), Job("other", HOUR, healthy)])
    runs = await scheduler.run_due()
    assert [(r.name, r.ok, r.error) for r in runs] == [
        ("sweep", False, "ValueError: sweep failed"),
        ("other", True, None),
    ]
    assert (await state(db, "sweep")).last_error == "ValueError: sweep failed"
    assert "job sweep failed" in caplog.text
    # a failed run still used its slot: the next try is a period later
    assert await scheduler.run_due() == []
    sweep.fail = False
    clock.advance(HOUR)
    assert all(r.ok for r in await scheduler.run_due())
    assert (await state(db, "sweep")).last_error is None


async def test_the_background_loop_runs_due_jobs(db: Database, clock: Clock) -> None:
    sweep = Counting()
    scheduler = Scheduler(db, clock, [Job("sweep", HOUR, sweep)], poll_interval=0.01)
    scheduler.start()
    try:
        async with asyncio.timeout(5):
            await sweep.ran.wait()
            sweep.ran.clear()
            clock.advance(HOUR)
            await sweep.ran.wait()
    finally:
        await scheduler.stop()
    assert sweep.runs == 2


def test_job_names_must_be_unique(db: Database, clock: Clock) -> None:
    job = Job("sweep", HOUR, Counting())
    with pytest.raises(ValueError, match="unique"):
        Scheduler(db, clock, [job, job])
