"""Consumer-side dedupe: at-least-once delivery becomes effectively-once processing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from services.kit.tables import InboxMessage


async def first_delivery(
    session: AsyncSession, message_id: str, *, source: str, now: datetime
) -> bool:
    """Records `message_id` in the caller's transaction; False if it was processed before."""
    dialect = session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(InboxMessage)
        .values(message_id=message_id, source=source, received_at=now)
        .on_conflict_do_nothing(index_elements=["message_id"])
    )
    # On the session's connection (its transaction): sqlmodel deprecates Session.execute.
    result = await (await session.connection()).execute(statement)
    return bool(getattr(result, "rowcount", 0) == 1)


async def processed(session: AsyncSession, message_ids: Iterable[str]) -> set[str]:
    """Which of `message_ids` were processed already (a read: `first_delivery` decides)."""
    wanted = list(message_ids)
    if not wanted:
        return set()
    statement = select(InboxMessage.message_id).where(col(InboxMessage.message_id).in_(wanted))
    result = await (await session.connection()).execute(statement)
    return {str(row[0]) for row in result}
