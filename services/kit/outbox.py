"""The transactional outbox: audit shipping, webhooks and notifications all go through it.

`enqueue()` adds a row in the caller's transaction, so a message exists exactly when the
change it describes was committed. The relay claims due rows with a lease (`FOR UPDATE SKIP
LOCKED` on PostgreSQL; SQLite serialises writers with `BEGIN IMMEDIATE`), delivers them,
and retries with backoff until `max_attempts`, then dead-letters. A relay that dies mid-batch
leaves its lease to expire and the rows are delivered again: at-least-once, and consumers
dedupe by message id (`services.kit.inbox`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession as ModelSession

from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.ids import new_id
from services.kit.jobs import Job, JobContext
from services.kit.tables import OutboxMessage
from services.kit.tasks import cancel_and_wait, wait_event

log = logging.getLogger("cityhall.outbox")

# Set while the relay commits its own claim/settle transactions: `Database.on_commit` wakes the
# relay after every commit, and a relay woken by its own (empty) claim would spin forever.
_relay_commit: ContextVar[bool] = ContextVar("cityhall_outbox_relay_commit", default=False)

_ENQUEUED = "cityhall_outbox_enqueued"

DEFAULT_BACKOFF: tuple[timedelta, ...] = tuple(
    timedelta(seconds=s) for s in (1, 5, 30, 120, 600, 1800, 3600)
)
WEBHOOK_BACKOFF: tuple[timedelta, ...] = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=2),
)


class RetryLater(Exception):
    """A temporary failure: try again after the backoff (or `after`, when given)."""

    def __init__(self, reason: str, *, after: timedelta | None = None) -> None:
        super().__init__(reason)
        self.after = after


class Undeliverable(Exception):
    """A permanent failure: dead-letter the message now."""


Outcome = RetryLater | Undeliverable | None  # None: delivered
Outcomes = Sequence[Outcome]


class OutboxHandler(Protocol):
    """Delivers a batch of one topic's messages; returns one outcome per message, in order:
    None for delivered, or a RetryLater / Undeliverable instance."""

    async def __call__(self, messages: Sequence[OutboxMessage]) -> Outcomes: ...


class SettleHook(Protocol):
    """Writes what a delivery learned (an attempt log, a status) in the relay's own settle
    transaction, instead of a write transaction of its own per message."""

    async def __call__(
        self, session: ModelSession, messages: Sequence[OutboxMessage], outcomes: Outcomes
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class RecordingHandler:
    """An outbox handler with a settle hook: `deliver` runs outside any transaction, then
    `record` runs inside the settle (in a savepoint: if it fails, the outcomes still land)."""

    deliver: OutboxHandler
    record: SettleHook

    async def __call__(self, messages: Sequence[OutboxMessage]) -> Outcomes:
        return await self.deliver(messages)


def per_message(
    deliver: Callable[[OutboxMessage], Awaitable[None]],
) -> OutboxHandler:
    """Adapts a one-message delivery function (raising RetryLater / Undeliverable)."""

    async def handler(
        messages: Sequence[OutboxMessage],
    ) -> Outcomes:
        async def one(message: OutboxMessage) -> Outcome:
            try:
                await deliver(message)
            except (RetryLater, Undeliverable) as outcome:
                return outcome
            except Exception as exc:
                log.warning("delivery of %s failed: %r", message.id, exc)
                return RetryLater(f"{type(exc).__name__}: {exc}")
            return None

        return await asyncio.gather(*(one(m) for m in messages))

    return handler


async def enqueue(
    session: AsyncSession,
    topic: str,
    payload: Mapping[str, Any],
    *,
    now: datetime,
    destination: str | None = None,
    headers: Mapping[str, str] | None = None,
    message_id: str | None = None,
    deliver_at: datetime | None = None,
    max_attempts: int | None = None,
) -> str:
    """Adds a message in the caller's transaction; returns its id (the consumer's dedupe key)."""
    message = OutboxMessage(
        id=message_id or new_id("msg"),
        topic=topic,
        destination=destination,
        payload=dict(payload),
        headers=dict(headers or {}),
        status="pending",
        attempts=0,
        max_attempts=max_attempts or 0,
        next_attempt_at=deliver_at or now,
        created_at=now,
    )
    # No flush: the rows go out with the transaction's other inserts, in one statement per
    # table at commit (a query of the outbox in between autoflushes them).
    session.add(message)
    session.info[_ENQUEUED] = True
    return message.id


def enqueued_in(session: AsyncSession) -> bool:
    """Whether `session` added outbox messages: only then is the relay woken by its commit."""
    return bool(session.info.get(_ENQUEUED))


@dataclass(frozen=True, slots=True)
class TopicPolicy:
    backoff: tuple[timedelta, ...] = DEFAULT_BACKOFF
    max_attempts: int | None = None  # None: the relay's default


_RESCHEDULE = (
    update(OutboxMessage)
    .where(col(OutboxMessage.id) == bindparam("b_id"))
    .where(col(OutboxMessage.status) == "pending")
    .where(col(OutboxMessage.attempts) == bindparam("b_attempts"))
    .values(
        status=bindparam("b_status"),
        next_attempt_at=bindparam("b_next"),
        last_error=bindparam("b_error"),
        claimed_until=None,
    )
)


class OutboxRelay:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        handlers: Mapping[str, OutboxHandler],
        *,
        policies: Mapping[str, TopicPolicy] | None = None,
        batch_size: int = 100,
        max_attempts: int = 8,
        lease: timedelta = timedelta(seconds=60),
        idle_poll: float = 1.0,
    ) -> None:
        self.db = db
        self.clock = clock
        self.handlers = dict(handlers)
        self.policies = dict(policies or {})
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.lease = lease
        self.idle_poll = idle_poll
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def policy(self, topic: str) -> TopicPolicy:
        return self.policies.get(topic, TopicPolicy())

    def wake(self) -> None:
        """Ask for a pass now (called after commits that may have enqueued messages)."""
        if not _relay_commit.get():
            self._wake.set()

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[ModelSession]:
        token = _relay_commit.set(True)
        try:
            async with self.db.session() as session:
                yield session
        finally:
            _relay_commit.reset(token)

    def _due(self, now: datetime) -> Any:
        return (
            select(OutboxMessage)
            .where(col(OutboxMessage.status) == "pending")
            .where(col(OutboxMessage.next_attempt_at) <= now)
            .where(
                or_(
                    col(OutboxMessage.claimed_until).is_(None),
                    col(OutboxMessage.claimed_until) <= now,
                )
            )
            .where(col(OutboxMessage.topic).in_(list(self.handlers)))
        )

    async def _anything_due(self) -> bool:
        """A read without the write lock: most wake-ups find nothing, and on SQLite taking the
        lock for nothing would queue the service's own writers behind the relay."""
        async with self.db.session(write=False) as session:
            found = await session.exec(self._due(self.clock.now()).limit(1))
            return found.first() is not None

    async def _claim(self, *, check_first: bool = True) -> list[OutboxMessage]:
        """One statement: mark a batch of due rows as ours and read them back."""
        if check_first and not await self._anything_due():
            return []
        async with self._session() as session:
            # Read the time once the (SQLite) write lock is held, so a wait for the lock
            # never shortens the lease.
            now = self.clock.now()
            due = (
                self._due(now)
                .with_only_columns(col(OutboxMessage.id))
                .order_by(col(OutboxMessage.next_attempt_at), col(OutboxMessage.id))
                .limit(self.batch_size)
            )
            if not self.db.is_sqlite:
                due = due.with_for_update(skip_locked=True)
            claimed = await session.exec(
                update(OutboxMessage)
                .where(col(OutboxMessage.id).in_(due.scalar_subquery()))
                .values(claimed_until=now + self.lease, attempts=OutboxMessage.attempts + 1)
                .returning(OutboxMessage)
                .execution_options(synchronize_session=False)
            )
            messages = list(claimed.scalars().all())
        messages.sort(key=lambda m: (m.next_attempt_at, m.id))
        return messages

    def _failure_values(
        self, message: OutboxMessage, outcome: RetryLater | Undeliverable, now: datetime
    ) -> dict[str, Any]:
        policy = self.policy(message.topic)
        limit = message.max_attempts or policy.max_attempts or self.max_attempts
        values: dict[str, Any] = {
            "b_id": message.id,
            "b_attempts": message.attempts,
            "b_error": str(outcome)[:2000],
            "b_next": message.next_attempt_at,
            "b_status": "pending",
        }
        if isinstance(outcome, Undeliverable) or message.attempts >= limit:
            values["b_status"] = "dead"
            log.warning("outbox message %s dead-lettered: %s", message.id, outcome)
        else:
            delay = (
                outcome.after
                if outcome.after is not None
                else policy.backoff[min(message.attempts - 1, len(policy.backoff) - 1)]
            )
            values["b_next"] = now + delay
        return values

    async def _settle(
        self,
        messages: Sequence[OutboxMessage],
        outcomes: Outcomes,
        hooks: Sequence[tuple[SettleHook, Sequence[OutboxMessage], Outcomes]] = (),
    ) -> int:
        """One transaction for the whole batch: the handlers' settle hooks, one UPDATE for the
        delivered rows, one executemany for the others. Returns how many were delivered."""
        delivered_ids = [m.id for m, o in zip(messages, outcomes, strict=True) if o is None]
        async with self._session() as session:
            for hook, batch, batch_outcomes in hooks:
                try:
                    async with session.begin_nested():
                        await hook(session, batch, batch_outcomes)
                except Exception:
                    log.exception("outbox settle hook for %s failed", batch[0].topic)
            now = self.clock.now()
            delivered = 0
            if delivered_ids:
                result = await session.exec(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id).in_(delivered_ids))
                    .where(col(OutboxMessage.status) == "pending")
                    .values(
                        status="delivered", delivered_at=now, last_error=None, claimed_until=None
                    )
                    .execution_options(synchronize_session=False)
                )
                delivered = int(getattr(result, "rowcount", 0) or 0)
            failures = [
                self._failure_values(m, o, now)
                for m, o in zip(messages, outcomes, strict=True)
                if o is not None
            ]
            if failures:
                # Only the claim that is still current may reschedule or dead-letter: if our
                # lease ran out and another relay re-claimed the row (bumping `attempts`), its
                # outcome wins and ours is dropped.
                connection = await session.connection()
                await connection.execute(_RESCHEDULE, failures)
        return delivered

    async def _deliver(self, topic: str, batch: list[OutboxMessage]) -> Outcomes:
        try:
            outcomes = list(await self.handlers[topic](batch))
            if len(outcomes) != len(batch):
                raise RuntimeError(
                    f"handler returned {len(outcomes)} outcomes for {len(batch)} messages"
                )
        except Exception as exc:
            log.exception("outbox handler for %s failed", topic)
            return [RetryLater(f"{type(exc).__name__}: {exc}")] * len(batch)
        return outcomes

    async def run_once(self, *, woken: bool = False) -> int:
        """Claims and delivers every due message; returns how many were delivered.

        `woken`: a commit that enqueued asked for this pass, so something is due and the
        lock-free look first is skipped. A smaller batch than `batch_size`, all delivered, was
        everything that was due."""
        total = 0
        check_first = not woken
        while True:
            messages = await self._claim(check_first=check_first)
            if not messages:
                return total
            by_topic: dict[str, list[OutboxMessage]] = {}
            for message in messages:
                by_topic.setdefault(message.topic, []).append(message)
            # Topics go to different consumers: deliver them side by side, settle once.
            results = await asyncio.gather(
                *(self._deliver(topic, batch) for topic, batch in by_topic.items())
            )
            settled = [m for batch in by_topic.values() for m in batch]
            outcomes = [o for result in results for o in result]
            hooks = [
                (handler.record, batch, result)
                for (topic, batch), result in zip(by_topic.items(), results, strict=True)
                if isinstance(handler := self.handlers[topic], RecordingHandler)
            ]
            total += await self._settle(settled, outcomes, hooks)
            full = len(messages) == self.batch_size
            if not full and all(outcome is None for outcome in outcomes):
                return total  # everything that was due is delivered
            check_first = not full  # a retry may be due at once (`RetryLater(after=0)`)

    async def _loop(self) -> None:
        while True:
            woken = self._wake.is_set()
            self._wake.clear()
            try:
                await self.run_once(woken=woken)
            except Exception:
                log.exception("outbox relay pass failed")
            await wait_event(self._wake, self.idle_poll)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="cityhall-outbox-relay")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None


DELIVERED_RETENTION = timedelta(days=7)


async def purge_delivered(db: Database, now: datetime) -> int:
    """Deletes delivered messages older than the retention; dead letters stay for inspection."""
    async with db.session() as session:
        result = await session.exec(
            delete(OutboxMessage)
            .where(OutboxMessage.status == "delivered")  # type: ignore[arg-type]
            .where(OutboxMessage.created_at < now - DELIVERED_RETENTION)  # type: ignore[arg-type]
        )
        return int(getattr(result, "rowcount", 0) or 0)


async def _purge_job(context: JobContext) -> None:
    await purge_delivered(context.db, context.clock.now())


PURGE_JOB = Job(name="kit.outbox.purge", every=timedelta(hours=1), run=_purge_job)
