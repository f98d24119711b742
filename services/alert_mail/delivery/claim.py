"""Claiming due deliveries in batches, safely with several workers.

PostgreSQL: `FOR UPDATE SKIP LOCKED` in the subquery, so concurrent workers take disjoint
batches without waiting on each other. SQLite: writers are serialised by `BEGIN IMMEDIATE`,
so a plain `UPDATE ... WHERE id IN (SELECT ...) RETURNING` is enough.

The queue conditions are written as literals (not bound parameters) so that both planners
can use the partial index `ix_deliveries_queue` and stop after `LIMIT` rows instead of sorting
every waiting delivery of a 64,000-recipient alert on each claim."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import TextClause

from services.alert_mail.domain.delivery_status import DELIVERIES, QUEUED, DeliveryTransition
from services.alert_mail.models.deliveries import IN_FLIGHT_CONDITION, QUEUE_CONDITION
from services.kit.sqltypes import UTCDateTime

_RETURNING = "RETURNING id, kind, alert_id, subscription_id, message_id, email, language, attempts"
_SET = (
    "SET status = :claimed, lease_until = :lease_until, worker = :worker, "
    "attempts = attempts + 1, updated_at = :now"
)


# Every claimable state claims into one: `sending`.
(_CLAIMED,) = {DELIVERIES.apply(s, DeliveryTransition.CLAIM) for s in QUEUED}


@dataclass(frozen=True, slots=True)
class Claimed:
    """One claimed delivery, as the sender needs it."""

    id: int
    kind: str
    alert_id: str | None
    subscription_id: str | None
    message_id: str | None
    email: str
    language: str
    attempts: int


def _typed(statement: TextClause) -> TextClause:
    return statement.bindparams(
        bindparam("now", type_=UTCDateTime()), bindparam("lease_until", type_=UTCDateTime())
    )


def _claim_statement(where: str, order: str, *, skip_locked: bool) -> TextClause:
    lock = " FOR UPDATE SKIP LOCKED" if skip_locked else ""
    # Module constants only; every value is a bound parameter.
    subquery = f"SELECT id FROM deliveries WHERE {where} ORDER BY {order} LIMIT :limit{lock}"  # noqa: S608
    return _typed(text(f"UPDATE deliveries {_SET} WHERE id IN ({subquery}) {_RETURNING}"))


_QUEUE = f"{QUEUE_CONDITION} AND next_attempt_at <= :now"
_EXPIRED = f"{IN_FLIGHT_CONDITION} AND lease_until < :now"
_STATEMENTS = {
    (kind, skip): _claim_statement(where, order, skip_locked=skip)
    for kind, where, order in (
        ("expired", _EXPIRED, "lease_until, id"),
        ("queue", _QUEUE, "priority, next_attempt_at, id"),
    )
    for skip in (False, True)
}
_RENEW_SQL = "UPDATE deliveries SET lease_until = :lease_until, updated_at = :now WHERE "
_RENEW = _typed(text(_RENEW_SQL + f"worker = :worker AND {IN_FLIGHT_CONDITION}"))
_ANYTHING_DUE = text(
    f"SELECT 1 WHERE EXISTS (SELECT 1 FROM deliveries WHERE {_QUEUE})"  # noqa: S608
    f" OR EXISTS (SELECT 1 FROM deliveries WHERE {_EXPIRED})"
).bindparams(bindparam("now", type_=UTCDateTime()))


async def anything_due(session: AsyncSession, now: datetime) -> bool:
    """A look without the write lock: an idle worker's poll must not queue other writers."""
    connection = await session.connection()
    found = await connection.execute(_ANYTHING_DUE, {"now": now})
    return found.first() is not None


async def claim_batch(
    session: AsyncSession,
    *,
    now: datetime,
    lease_until: datetime,
    worker: str,
    limit: int,
    skip_locked: bool,
) -> list[Claimed]:
    """Marks up to `limit` due deliveries `sending` under this claim's `worker` token.
    Deliveries whose worker died (lease expired) come first, then the queue in priority
    order. Each claim counts as an attempt."""
    connection = await session.connection()
    claimed: list[Claimed] = []
    for kind in ("expired", "queue"):
        wanted = limit - len(claimed)
        if wanted <= 0:
            break
        rows = await connection.execute(
            _STATEMENTS[(kind, skip_locked)],
            {
                "now": now,
                "lease_until": lease_until,
                "worker": worker,
                "limit": wanted,
                "claimed": _CLAIMED.value,
            },
        )
        claimed.extend(Claimed(*row) for row in rows.all())
    return claimed


async def renew_lease(
    session: AsyncSession, *, now: datetime, lease_until: datetime, worker: str
) -> int:
    """Extends the lease of the rows this claim still holds; how many it holds (0: the lease
    ran out and another worker took them, or they are all recorded)."""
    connection = await session.connection()
    renewed = await connection.execute(
        _RENEW, {"now": now, "lease_until": lease_until, "worker": worker}
    )
    return renewed.rowcount
