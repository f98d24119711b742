"""Scheduled work: expiry sweeps and 確報 settlement, on the service clock."""

from __future__ import annotations

from datetime import timedelta

from services.kit.jobs import Job, JobContext
from services.payments_mock import payment_sweeps
from services.payments_mock.settings import Settings


async def expire_due(context: JobContext) -> int:
    settings: Settings = context.state.settings
    async with context.db.session() as session:
        return await payment_sweeps.expire_due(session, settings, context.clock.now())


async def settle_due(context: JobContext) -> int:
    settings: Settings = context.state.settings
    async with context.db.session() as session:
        return await payment_sweeps.settle_due(session, settings, context.clock.now())


JOBS = (
    Job(name="payments_mock.expire", every=timedelta(minutes=1), run=expire_due),
    Job(name="payments_mock.settle", every=timedelta(minutes=5), run=settle_due),
)
