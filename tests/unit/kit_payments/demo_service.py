"""A tiny fee-charging service wired exactly as the kit.payments docstring says: its record
table, the two callbacks, and `PaymentsIntegration` + `notify_handlers` in its ServiceSpec."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.app import RuntimeOptions, ServiceSpec, create_service_app
from services.kit.notify import notify_handlers
from services.kit.payments import PaymentEvent, PaymentsIntegration, PaymentStatus
from services.kit.settings import ServiceSettings

MIGRATIONS = Path(__file__).parent / "demo_migrations"
WAITING = (PaymentStatus.AWAITING_PAYMENT.value, PaymentStatus.EXPIRED.value)
# Events may arrive in any order: a record only moves forward (a conditional UPDATE).
_S = PaymentStatus
RANK = {
    _S.AWAITING_PAYMENT: 0,
    _S.EXPIRED: 1,
    _S.PAID: 2,
    _S.SETTLED: 3,
    _S.PARTIALLY_REFUNDED: 4,
    _S.REFUNDED: 5,
    _S.CANCELED: 5,
}

metadata = MetaData()
fees = Table(
    "demo_fees",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("payment_id", String(64), nullable=False, unique=True),
    Column("status", String(32), nullable=False),
)
applied = Table(
    "demo_applied_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(255), nullable=False),
    Column("payment_id", String(64), nullable=False),
    Column("type", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("source", String(16), nullable=False),
)


@dataclass
class Handler:
    """The service's `on_payment_event`; `fail_next` makes the next call raise (after it
    wrote), to show the inbox row rolls back with the handler's writes."""

    fail_next: bool = False

    async def __call__(self, session: AsyncSession, event: PaymentEvent, now: datetime) -> None:
        conn = await session.connection()
        await conn.execute(
            insert(applied).values(
                event_id=event.id,
                payment_id=event.payment_id,
                type=event.type.value,
                status=event.status.value,
                source=event.source,
            )
        )
        earlier = [s.value for s, rank in RANK.items() if rank < RANK[event.status]]
        await conn.execute(
            update(fees)
            .where(fees.c.payment_id == event.payment_id, fees.c.status.in_(earlier))
            .values(status=event.status.value)
        )
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("the handler failed after writing")


async def pending_payment_ids(
    session: AsyncSession, after: str | None, limit: int
) -> Sequence[str]:
    query = select(fees.c.payment_id).where(fees.c.status.in_(WAITING))
    if after is not None:
        query = query.where(fees.c.payment_id > after)
    result = await (await session.connection()).execute(
        query.order_by(fees.c.payment_id).limit(limit)
    )
    return [str(row[0]) for row in result]


def create_demo_app(
    settings: ServiceSettings, handler: Handler, options: RuntimeOptions
) -> FastAPI:
    integration = PaymentsIntegration(
        on_event=handler, pending=pending_payment_ids, description="demo fees"
    )
    return create_service_app(
        ServiceSpec(
            name="kitdemo",
            title="kit.payments demo service",
            description="charges fictional demo fees",
            settings=settings,
            routers=[integration.router()],
            migrations=MIGRATIONS,
            jobs=[integration.job()],
            outbox_handlers=notify_handlers,
            on_startup=[integration.start],
            on_shutdown=[integration.stop],
            options=options,
        )
    )
