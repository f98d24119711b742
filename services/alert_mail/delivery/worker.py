"""The sending worker: claim a batch, send it over persistent SMTP connections, record it.

Two lanes run the claim → send → record cycle side by side and share one limit of SMTP sends
in flight, so the connections keep sending while the other lane is in the database. A 4xx
reschedules only its own delivery (`next_attempt_at`) and the lane moves on at once: failing
recipients never hold up healthy ones. Sends stop at a deadline well inside the claim's lease
(and on shutdown); whatever was not attempted is handed back unsent, so a slow server never
lets the lease run out under a live worker. While a lane holds a batch it renews the lease
every third of it, so a pass slowed by a busy machine keeps its rows; a renewal that finds
them taken stops the sends.

A Cancel or an Update of the alert stops the rest of a batch: the deliveries not yet sent are
recorded `cancelled` or `superseded` (delivery.stops).

At-least-once: a worker killed mid-batch leaves its rows `sending` until the lease expires,
then any worker re-claims and sends them again, with the same Message-ID."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import math
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from services.alert_mail import alerts_service
from services.alert_mail.delivery.batch import BatchContext, load_context
from services.alert_mail.delivery.claim import Claimed, anything_due, claim_batch, renew_lease
from services.alert_mail.delivery.record import Recorded, Result, record_results
from services.alert_mail.delivery.render import AlertParts, Renderer
from services.alert_mail.delivery.simulated import simulated_outcome
from services.alert_mail.delivery.stops import StopWatch, stops_of
from services.alert_mail.domain.delivery_status import (
    DELIVERIES,
    STOPS,
    DeliveryState,
    DeliveryTransition,
    RetryPolicy,
    settle,
)
from services.alert_mail.domain.subscription_rules import SubscriptionState
from services.alert_mail.settings import Settings
from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.mailer import Mailer, SendResult
from services.kit.tasks import cancel_and_wait, wait_event

log = logging.getLogger("cityhall.alert_mail.worker")

LANES = 2
LEASE_USE = 0.8  # stop starting sends after this share of the lease
LEASE_RENEWAL = 1 / 3  # renew a held batch's lease after this share of it
RECORD_ATTEMPTS = 3

# Set while a worker commits its own claims and outcomes: the commit hook wakes workers, and a
# worker woken by its own commit would spin.
_own_commit: ContextVar[bool] = ContextVar("alert_mail_worker_commit", default=False)


def worker_name() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(slots=True)
class Batch:
    token: str
    claimed: list[Claimed]
    context: BatchContext
    claimed_at: datetime
    deadline: float  # loop time after which no new send starts; moved on by each renewal


class DeliveryWorker:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        settings: Settings,
        mailer: Mailer,
        *,
        name: str | None = None,
        renderer: Renderer | None = None,
        lanes: int = LANES,
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.mailer = mailer
        self.name = name or worker_name()
        self.renderer = renderer or Renderer.from_settings(settings)
        self.policy = RetryPolicy(settings.retry_backoff_seconds, settings.max_attempts)
        self.lease = timedelta(seconds=settings.lease_seconds)
        self.lanes = lanes
        self._sending = asyncio.Semaphore(settings.worker_concurrency)
        self.stops = StopWatch(db, settings.worker_cancel_poll_seconds)
        self._claims = itertools.count(1)
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    # waking ------------------------------------------------------------------------------

    def wake(self) -> None:
        """Ask for a pass now (after commits that may have created deliveries)."""
        if not _own_commit.get():
            self._wake.set()

    @contextlib.asynccontextmanager
    async def _session(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        token = _own_commit.set(True)
        try:
            async with self.db.session(write=write) as session:
                yield session
        finally:
            _own_commit.reset(token)

    # one batch -----------------------------------------------------------------------------

    async def _claim(self) -> Batch | None:
        loop = asyncio.get_running_loop()
        async with self._session() as session:
            # read under the (SQLite) write lock: waiting never eats the lease
            now, leased_at = self.clock.now(), loop.time()
            token = f"{self.name}/{next(self._claims)}"
            claimed = await claim_batch(
                session,
                now=now,
                lease_until=now + self.lease,
                worker=token,
                limit=self.settings.worker_batch_size,
                skip_locked=not self.db.is_sqlite,
            )
            if not claimed:
                return None
            context = await load_context(session, claimed)
        self.stops.note(stops_of(context.alerts.values()))
        # from the lease's start: committing the claim and loading its context take time too
        deadline = leased_at + self.lease.total_seconds() * LEASE_USE
        return Batch(token, claimed, context, now, deadline)

    async def _send(self, batch: Batch) -> list[Result]:
        parts: dict[tuple[str, str], AlertParts] = {}
        results: list[Result] = []
        pending: Iterator[Claimed] = iter(batch.claimed)
        loop = asyncio.get_running_loop()

        async def sender() -> None:
            for delivery in pending:
                if stop := self.stops.stop_for(delivery.alert_id):
                    results.append(self._stopped(delivery, stop))
                elif self._stopping or loop.time() > batch.deadline:
                    results.append(Result(delivery, None, self.clock.now()))
                else:
                    results.append(await self._send_one(delivery, batch, parts))

        workers = min(self.settings.worker_concurrency, len(batch.claimed))
        async with self.stops.watching(batch.context.alerts.keys()):
            await asyncio.gather(*(sender() for _ in range(workers)))
        return results

    def _stopped(self, delivery: Claimed, stop: DeliveryTransition) -> Result:
        """Its alert was cancelled or superseded before the mail went out: settled unsent."""
        status = DELIVERIES.apply(DeliveryState.SENDING, stop)
        return Result(delivery, status, self.clock.now(), detail=STOPS[stop])

    async def _send_one(
        self, delivery: Claimed, batch: Batch, parts: dict[tuple[str, str], AlertParts]
    ) -> Result:
        try:
            data = self._render(delivery, batch, parts)
        except _NotSending as reason:
            return Result(
                delivery, DeliveryState.PERMANENT_FAILURE, self.clock.now(), detail=str(reason)
            )
        except Exception as exc:  # a rendering bug must not stop the batch
            log.exception("cannot render delivery %s", delivery.id)
            detail = f"rendering failed: {type(exc).__name__}"
            return Result(
                delivery, DeliveryState.TECHNICAL_FAILURE, self.clock.now(), detail=detail
            )
        outcome = simulated_outcome(delivery.email)
        if outcome is None:
            async with self._sending:
                if stop := self.stops.stop_for(delivery.alert_id):  # while waiting for a slot
                    return self._stopped(delivery, stop)
                outcome = await self.mailer.send_raw(
                    self.renderer.envelope_from,
                    (delivery.email,),
                    data,
                    smtputf8=not delivery.email.isascii(),
                )
        return self._result(delivery, outcome, self.clock.now())

    def _render(
        self, delivery: Claimed, batch: Batch, parts: dict[tuple[str, str], AlertParts]
    ) -> bytes:
        context = batch.context
        if delivery.kind == "alert" and delivery.alert_id and delivery.subscription_id:
            recipient = context.recipients.get(delivery.subscription_id)
            if recipient is None or recipient.status != SubscriptionState.ACTIVE:
                raise _NotSending("the subscription is no longer active")
            key = (delivery.alert_id, delivery.language)
            shared = parts.get(key)
            if shared is None:
                shared = self.renderer.alert_parts(
                    context.alerts[delivery.alert_id],
                    delivery.language,
                    context.district_names,
                    date=batch.claimed_at,
                )
                parts[key] = shared
            return self.renderer.alert_mail(
                shared,
                subscription_id=delivery.subscription_id,
                email=delivery.email,
                link_version=recipient.link_version,
            )
        if delivery.message_id:
            message = context.messages[delivery.message_id]
            return self.renderer.stored_mail(message, to=delivery.email, date=batch.claimed_at)
        raise ValueError(f"delivery {delivery.id} names neither an alert nor a message")

    def _result(self, delivery: Claimed, outcome: SendResult, at: datetime) -> Result:
        settled = settle(outcome.outcome, delivery.attempts, at, self.policy)
        return Result(
            delivery,
            settled.status,
            at,
            code=outcome.code,
            detail=None if outcome.ok else outcome.detail,
            next_attempt_at=settled.next_attempt_at,
            hard_bounce=settled.status is DeliveryState.PERMANENT_FAILURE,
        )

    async def _record(self, batch: Batch, results: Sequence[Result]) -> Recorded:
        recipients = batch.context.recipients
        reset = sorted(
            {
                r.delivery.subscription_id
                for r in results
                if r.status is DeliveryState.DELIVERED
                and r.delivery.subscription_id
                and r.delivery.subscription_id in recipients
                and recipients[r.delivery.subscription_id].hard_bounces > 0
            }
        )
        alert_ids = sorted({r.delivery.alert_id for r in results if r.delivery.alert_id})
        async with self._session() as session:
            now = self.clock.now()
            recorded = await record_results(
                session,
                batch.token,
                results,
                now=now,
                reset_bounces=reset,
                hard_bounce_limit=self.settings.hard_bounce_limit,
            )
            if alert_ids:
                await alerts_service.complete_finished_alerts(session, now, alert_ids=alert_ids)
        return recorded

    async def _pass(self, *, look_first: bool) -> int:
        """One batch; returns how many deliveries it settled or handed back (0: none due)."""
        if look_first:
            async with self._session(write=False) as session:
                if not await anything_due(session, self.clock.now()):
                    return 0
        batch = await self._claim()
        if batch is None:
            return 0
        async with self._keeping_lease(batch):
            results = await self._send(batch)
            for attempt in range(1, RECORD_ATTEMPTS + 1):
                try:
                    await self._record(batch, results)
                    break
                except Exception:
                    # Sent mails whose outcome is lost would be sent again after the lease.
                    if attempt == RECORD_ATTEMPTS:
                        raise
                    log.warning("recording batch %s failed, retrying", batch.token, exc_info=True)
                    await asyncio.sleep(0.2 * attempt)
        return len(results)

    @contextlib.asynccontextmanager
    async def _keeping_lease(self, batch: Batch) -> AsyncIterator[None]:
        """Renews the batch's lease while the lane holds it (sending, then recording). On a
        busy machine a pass can outlast the lease; unrenewed, another worker would re-claim
        rows still being sent, mail them twice and count an attempt each time without a send."""
        keeper = asyncio.create_task(self._keep_lease(batch), name=f"lease-{batch.token}")
        try:
            yield
        finally:
            await cancel_and_wait(keeper)

    async def _keep_lease(self, batch: Batch) -> None:
        loop = asyncio.get_running_loop()
        lease = self.lease.total_seconds()
        while True:
            await asyncio.sleep(lease * LEASE_RENEWAL)
            renewed_at, now = loop.time(), self.clock.now()
            async with self._session() as session:
                held = await renew_lease(
                    session, now=now, lease_until=now + self.lease, worker=batch.token
                )
            if held == 0:  # taken over (or all recorded): start no further send
                batch.deadline = -math.inf
                return
            batch.deadline = renewed_at + lease * LEASE_USE

    # driving -------------------------------------------------------------------------------

    async def run_once(self) -> int:
        """Sends everything due now, batch after batch, in this task (tests, `/sim/tick`)."""
        total, look_first = 0, True
        while (done := await self._pass(look_first=look_first)) > 0:
            total += done
            look_first = False
        return total

    async def _lane(self) -> None:
        full = False
        while not self._stopping:
            if not full:
                self._wake.clear()
            try:
                done = await self._pass(look_first=not full)
            except Exception:
                log.exception("delivery pass failed")
                done = 0
            full = done >= self.settings.worker_batch_size
            if done == 0 and not self._stopping:
                await wait_event(self._wake, self.settings.worker_idle_poll_seconds)

    def start(self) -> None:
        if not self._tasks:
            self._stopping = False
            self._tasks = [
                asyncio.create_task(self._lane(), name=f"alert-mail-worker-{n}")
                for n in range(self.lanes)
            ]

    async def stop(self, grace: float = 10.0) -> None:
        """Finish the batches in hand (sends stop at once; unsent rows go back), then stop."""
        self._stopping = True
        self._wake.set()
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        _done, late = await asyncio.wait(tasks, timeout=grace)
        for task in late:
            await cancel_and_wait(task)


class _NotSending(Exception):
    """The delivery is settled without sending (e.g. the address unsubscribed meanwhile)."""
