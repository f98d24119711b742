"""Scheduled work of e_application, registered with the kit scheduler."""

from __future__ import annotations

from datetime import timedelta

from services.e_application import workflow_service
from services.e_application.application_views import today_jst
from services.kit.jobs import Job, JobContext


async def _expire_returns(context: JobContext) -> None:
    """Returned applications past their correction deadline end as expired (不受理)."""
    while True:
        now = context.clock.now()
        async with context.db.session() as session:
            count = await workflow_service.expire_returns(session, today=today_jst(now), now=now)
        if count == 0:
            return


EXPIRE_RETURNS = Job(
    name="e_application.returns.expire", every=timedelta(hours=1), run=_expire_returns
)

JOBS: list[Job] = [EXPIRE_RETURNS]
