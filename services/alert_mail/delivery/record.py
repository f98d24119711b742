"""Recording a batch's outcomes in one transaction, with one executemany per kind of outcome.

Every statement is guarded by the claim's `worker` token: if this worker's lease ran out and
another worker re-claimed a delivery, that worker's outcome wins and ours is dropped.

Subscriptions are only written when something happened to them: a hard bounce (+1, and
suspension at the limit, the lifecycle's `suspend` with its history event) or the first
delivery after bounces (reset to 0). The happy path of
a 64,000-recipient alert writes no subscription row."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Update, and_, bindparam, case, literal, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.alert_mail.delivery.claim import Claimed
from services.alert_mail.domain.delivery_status import DeliveryState
from services.alert_mail.domain.subscription_rules import SUBSCRIPTIONS, Transition
from services.alert_mail.models import Delivery, Subscription
from services.alert_mail.subscriptions_service import record_transition
from services.kit.sqltypes import UTCDateTime

_d = Delivery.__table__  # type: ignore[attr-defined]
_s = Subscription.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one claimed delivery; `status=None` hands it back unsent."""

    delivery: Claimed
    status: DeliveryState | None
    at: datetime
    code: int | None = None
    detail: str | None = None
    next_attempt_at: datetime | None = None
    hard_bounce: bool = False  # counts towards suspending the address


@dataclass(frozen=True, slots=True)
class Recorded:
    delivered: int
    failed: int
    released: int
    suspended: int


def _mine(token: str) -> ColumnElement[bool]:
    return and_(_d.c.id == bindparam("b_id"), _d.c.worker == literal(token))


# The two statements of every batch go to the driver's executemany as they are: SQLAlchemy's
# per-row parameter processing cost more than SQLite's own work for these updates.
# The statuses are bound like every other value: each comes from the delivery lifecycle
# (`settle`, or the stop, `cancel` or `supersede`, the worker applies).
_DELIVERED = (
    "UPDATE deliveries SET status = ?, delivered_at = ?, updated_at = ?,"
    " lease_until = NULL, last_code = ?, last_detail = NULL WHERE id = ? AND worker = ?"
)
_FAILED = (
    "UPDATE deliveries SET status = ?, next_attempt_at = ?, updated_at = ?,"
    " lease_until = NULL, last_code = ?, last_detail = ? WHERE id = ? AND worker = ?"
)


def _driver_sql(sql: str, paramstyle: str) -> str:
    if paramstyle == "qmark":
        return sql
    numbers = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(numbers)}", sql)


async def _executemany(
    connection: AsyncConnection, sql: str, rows: Sequence[tuple[object, ...]]
) -> None:
    await connection.exec_driver_sql(_driver_sql(sql, connection.dialect.paramstyle), list(rows))


def _released(token: str, now: datetime) -> Update:
    """Back in the queue as it was before the claim (the claim's attempt did not happen)."""
    return (
        update(_d)
        .where(_mine(token))
        .values(
            status=case(
                (_d.c.attempts <= 1, DeliveryState.CREATED.value),
                else_=DeliveryState.TEMPORARY_FAILURE.value,
            ),
            attempts=_d.c.attempts - 1,
            lease_until=None,
            updated_at=now,
        )
    )


async def record_results(
    session: AsyncSession,
    token: str,
    results: Sequence[Result],
    *,
    now: datetime,
    reset_bounces: Sequence[str],
    hard_bounce_limit: int,
) -> Recorded:
    connection = await session.connection()
    stamp = UTCDateTime().bind_processor(connection.dialect) or (lambda value: value)
    delivered = [
        (r.status, stamp(r.at), stamp(r.at), r.code, r.delivery.id, token)
        for r in results
        if r.status is DeliveryState.DELIVERED
    ]
    failed = [
        (
            r.status,
            stamp(r.next_attempt_at or r.at),
            stamp(r.at),
            r.code,
            (r.detail or "")[:500] or None,
            r.delivery.id,
            token,
        )
        for r in results
        if r.status is not None and r.status is not DeliveryState.DELIVERED
    ]
    released = [{"b_id": r.delivery.id} for r in results if r.status is None]
    if delivered:
        await _executemany(connection, _DELIVERED, delivered)
    if failed:
        await _executemany(connection, _FAILED, failed)
    if released:
        await connection.execute(_released(token, now), released)
    if reset_bounces:
        await connection.execute(
            update(_s)
            .where(_s.c.id.in_(list(reset_bounces)), _s.c.hard_bounces > 0)
            .values(hard_bounces=0, updated_at=now)
        )
    suspended = await _count_hard_bounces(session, results, now, hard_bounce_limit)
    return Recorded(len(delivered), len(failed), len(released), suspended)


async def _count_hard_bounces(
    session: AsyncSession, results: Sequence[Result], now: datetime, limit: int
) -> int:
    bounced = sorted(
        {
            r.delivery.subscription_id
            for r in results
            if r.hard_bounce and r.delivery.subscription_id
        }
    )
    if not bounced:
        return 0
    connection = await session.connection()
    await connection.execute(
        update(_s)
        .where(_s.c.id == bindparam("b_sid"))
        .values(hard_bounces=_s.c.hard_bounces + 1, updated_at=now),
        [{"b_sid": sid} for sid in bounced],
    )
    return await _suspend(session, bounced, now, limit)


async def _suspend(session: AsyncSession, bounced: Sequence[str], now: datetime, limit: int) -> int:
    """Repeated hard bounces suspend the address through the lifecycle's `suspend`: one
    conditional UPDATE per state the table lets suspend, and a history event per row moved."""
    connection = await session.connection()
    suspended = 0
    for before in sorted(SUBSCRIPTIONS.states_allowing(Transition.SUSPEND)):
        after = SUBSCRIPTIONS.apply(before, Transition.SUSPEND)
        moved = await connection.execute(
            update(_s)
            .where(_s.c.id.in_(bounced), _s.c.status == before.value, _s.c.hard_bounces >= limit)
            .values(status=after.value, suspended_at=now, updated_at=now)
            .returning(_s.c.id, _s.c.hard_bounces)
        )
        for subscription_id, hard_bounces in moved.all():
            await record_transition(
                session,
                subscription_id,
                Transition.SUSPEND,
                before,
                after,
                principal=None,
                now=now,
                changes={"hard_bounces": hard_bounces},
                note=f"{hard_bounces} hard bounces in a row",
            )
            suspended += 1
    return suspended
