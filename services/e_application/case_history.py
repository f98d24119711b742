"""Moving a case: one transition of the lifecycle, with its append-only history row (actor,
time, comments) written in the same transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application.domain.lifecycle import LIFECYCLE, Status, Transition
from services.e_application.models import Application, ApplicationEvent
from services.kit.auth import Principal
from services.kit.errors import NotFound
from services.kit.ids import new_id

CREATE = "create"


async def load_for_update(session: AsyncSession, application_id: str) -> Application:
    """The application, locked for this transaction (PostgreSQL row lock; SQLite writers are
    serialised by BEGIN IMMEDIATE), so two transitions never both leave the same state."""
    row = (
        await session.exec(
            select(Application)
            .where(col(Application.id) == application_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one_or_none()
    if row is None:
        raise NotFound(f"no application {application_id}")
    return row


async def record(
    session: AsyncSession,
    application: Application,
    transition: str,
    *,
    from_status: Status | None,
    actor: Principal | None,
    now: datetime,
    comment: str | None = None,
    internal_comment: str | None = None,
    data: dict[str, Any] | None = None,
) -> ApplicationEvent:
    last = (
        await session.exec(
            select(func.max(ApplicationEvent.seq)).where(
                col(ApplicationEvent.application_id) == application.id
            )
        )
    ).one()
    event = ApplicationEvent(
        id=new_id("evt"),
        application_id=application.id,
        seq=(last or 0) + 1,
        at=now,
        actor=actor.sub if actor else None,
        actor_kind=actor.kind if actor else "anonymous",
        transition=transition,
        from_status=from_status.value if from_status else None,
        to_status=application.status,
        comment=comment,
        internal_comment=internal_comment,
        data=data or {},
    )
    session.add(event)
    return event


async def move(
    session: AsyncSession,
    application: Application,
    transition: Transition,
    *,
    actor: Principal | None,
    now: datetime,
    comment: str | None = None,
    internal_comment: str | None = None,
    data: dict[str, Any] | None = None,
) -> Status:
    """Applies `transition` (409 naming the current state when illegal) and records it."""
    before = Status(application.status)
    after = LIFECYCLE.apply(before, transition)
    application.status = after.value
    application.updated_at = now
    await record(
        session,
        application,
        transition.value,
        from_status=before,
        actor=actor,
        now=now,
        comment=comment,
        internal_comment=internal_comment,
        data=data,
    )
    return after
