"""Scheduled work on payments: expiry at the deadline, 確報 settlement, and refund transfers
that have arrived; each sweep locks its batch (`SKIP LOCKED`), so replicas share the work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit import audit
from services.kit.errors import Conflict
from services.payments_mock import payments_service
from services.payments_mock.domain.lifecycle import (
    PAYMENTS,
    PaymentState,
    RefundStatus,
    Transition,
)
from services.payments_mock.models import Payment, Refund
from services.payments_mock.settings import Settings

SERVICE = "payments_mock"


async def expire_payment(
    session: AsyncSession, settings: Settings, payment: Payment, *, now: datetime
) -> Payment:
    if payment.expires_at > now:
        raise Conflict("the payment has not reached its deadline yet", current_state=payment.status)
    payment.expired_at = now
    await payments_service.transition(
        session, settings, payment, Transition.EXPIRE, actor=None, now=now
    )
    return payment


async def _due(
    session: AsyncSession, state: PaymentState, deadline: Any, now: datetime
) -> list[Payment]:
    """A batch of payments in `state` whose `deadline` column has passed, locked for the sweep."""
    query = (
        select(Payment)
        .where(col(Payment.status) == state.value)
        .where(deadline <= now)
        .order_by(deadline)
        .limit(500)
        .with_for_update(skip_locked=True)
    )
    return list((await session.exec(query)).all())


async def expire_due(session: AsyncSession, settings: Settings, now: datetime) -> int:
    due = await _due(session, PaymentState.AWAITING_PAYMENT, col(Payment.expires_at), now)
    for payment in due:
        await expire_payment(session, settings, payment, now=now)
    return len(due)


async def settle_due(session: AsyncSession, settings: Settings, now: datetime) -> int:
    due = await _due(session, PaymentState.PAID, col(Payment.settles_at), now)
    for payment in due:
        payment.settled_at = now
        await payments_service.transition(
            session, settings, payment, Transition.SETTLE, actor=None, now=now
        )
    refunds = list(
        (
            await session.exec(
                select(Refund)
                .where(col(Refund.status) == RefundStatus.PENDING, col(Refund.completes_at) <= now)
                .with_for_update(skip_locked=True)
            )
        ).all()
    )
    for row in refunds:
        row.status = RefundStatus.COMPLETED
        row.completed_at = now
        session.add(row)
        await audit.record(
            session,
            None,
            "refund.completed",
            row.id,
            service=SERVICE,
            now=now,
            changes={
                "status": [RefundStatus.PENDING.value, RefundStatus.COMPLETED.value],
                "payment_id": row.payment_id,
            },
        )
    await session.flush()
    return len(due) + len(refunds)


async def force_expiry(
    session: AsyncSession, settings: Settings, payment: Payment, *, now: datetime
) -> Payment:
    """Simulation: this payment's deadline is brought forward to `now` and it expires, as the
    sweep would expire it then. No clock moves, so no other payment is touched (the shared
    clock moves only through the gateway's `/sim/clock`)."""
    PAYMENTS.require(payment.status, Transition.EXPIRE)  # 409 naming the current state
    if payment.expires_at > now:
        payment.expires_at = now
    return await expire_payment(session, settings, payment, now=now)
