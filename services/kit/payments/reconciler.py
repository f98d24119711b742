"""The reconciler: a lost webhook never strands a record.

Periodically, the service names a batch of the payments it still waits on (`PendingPayments`:
payment ids in ascending order after a cursor, at most `limit`); for each, the payment's
history is read back from payments_mock, and every event the service has not processed is
handed to the same `on_payment_event` handler, each in its own transaction with its inbox row.
The event ids are the provider's, the same as the `webhook-id`s, so a webhook and the
reconciler racing on one event apply it once: the second finds the inbox row (on PostgreSQL
its insert waits for the first transaction, on SQLite writers are serialised)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.clock import Clock
from services.kit.db import Database
from services.kit.inbox import first_delivery, processed
from services.kit.jobs import Job, JobContext
from services.kit.payments.client import PaymentsClient
from services.kit.payments.errors import PROVIDER, PaymentsUnavailable
from services.kit.payments.views import PaymentEvent, PaymentEventType, ProviderEvent
from services.kit.payments.webhooks import PaymentEventHandler

log = logging.getLogger("cityhall.payments.reconciler")

PendingPayments = Callable[[AsyncSession, str | None, int], Awaitable[Sequence[str]]]
"""`(session, after, limit)` → up to `limit` payment ids greater than `after` (None: from the
start), ascending, of the records still waiting for their payment to move."""

_KNOWN_TYPES = frozenset(t.value for t in PaymentEventType)


@dataclass(slots=True)
class ReconcileReport:
    checked: int = 0
    applied: int = 0
    failed: int = 0


class Reconciler:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        client: PaymentsClient,
        *,
        pending: PendingPayments,
        handler: PaymentEventHandler,
        batch: int = 100,
        provider: str = PROVIDER,
    ) -> None:
        self.db = db
        self.clock = clock
        self.client = client
        self.pending = pending
        self.handler = handler
        self.batch = batch
        self.provider = provider
        self._after: str | None = None  # round-robin through long lists, batch by batch

    async def _unseen(self, events: Sequence[ProviderEvent]) -> list[ProviderEvent]:
        known = [e for e in events if e.type in _KNOWN_TYPES]
        async with self.db.session(write=False) as session:
            seen = await processed(session, [e.id for e in known])
        return [e for e in known if e.id not in seen]

    async def _apply(self, event: PaymentEvent) -> bool:
        async with self.db.session() as session:
            now = self.clock.now()
            if not await first_delivery(session, event.id, source=self.provider, now=now):
                return False  # a webhook got there first
            await self.handler(session, event, now)
            return True

    async def reconcile_payment(self, payment_id: str) -> int:
        """Applies what the service missed of one payment; returns how many events."""
        unseen = await self._unseen(await self.client.events(payment_id))
        if not unseen:
            return 0
        payment = await self.client.get_payment(payment_id)
        applied = 0
        for entry in sorted(unseen, key=lambda e: e.seq):
            event = PaymentEvent.model_validate(
                {
                    "id": entry.id,
                    "type": entry.type,
                    "status": entry.to_status,
                    "occurred_at": entry.occurred_at,
                    "payment": payment,
                    "data": entry.data,
                    "source": "reconciler",
                }
            )
            if await self._apply(event):
                applied += 1
        return applied

    async def run_once(self) -> ReconcileReport:
        """One batch. The provider being down ends the run (PaymentsUnavailable); a handler
        failing on one payment does not stop the others, and is raised at the end."""
        async with self.db.session(write=False) as session:
            ids = list(await self.pending(session, self._after, self.batch))
        self._after = ids[-1] if len(ids) >= self.batch else None
        report = ReconcileReport()
        failures: list[str] = []
        for payment_id in ids:
            report.checked += 1
            try:
                report.applied += await self.reconcile_payment(payment_id)
            except PaymentsUnavailable:
                raise
            except Exception as exc:
                log.exception("reconciling payment %s failed", payment_id)
                report.failed += 1
                failures.append(f"{payment_id}: {type(exc).__name__}: {exc}")
        if report.applied:
            log.info("reconciler applied %d missed payment events", report.applied)
        if failures:
            raise RuntimeError(f"{len(failures)} payments failed to reconcile; " + failures[0])
        return report


def reconcile_job(
    reconciler_of: Callable[[JobContext], Reconciler],
    *,
    every: timedelta = timedelta(minutes=5),
    name: str = "kit.payments.reconcile",
    before: Callable[[JobContext], Awaitable[None]] | None = None,
) -> Job:
    """A kit `Job` running one reconciler batch; `reconciler_of` finds the app's reconciler
    (built in its lifespan) from the job context."""

    async def run(context: JobContext) -> ReconcileReport:
        if before is not None:
            await before(context)
        return await reconciler_of(context).run_once()

    return Job(name=name, every=every, run=run)
