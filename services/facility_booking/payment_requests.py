"""Work for payments_mock, queued in the booking's transaction (kit outbox) and done by
`fees_service`'s handlers after the commit: no call to another service while a booking holds
its transaction, and a down payments_mock delays a slip instead of refusing a booking."""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking.models import Reservation
from services.kit.outbox import enqueue

PAYMENT_TOPIC = "facility_booking.payment"
REFUND_TOPIC = "facility_booking.refund"


async def request_payment(session: AsyncSession, reservation: Reservation, now: datetime) -> None:
    """A konbini slip or Pay-easy numbers for a held reservation."""
    await enqueue(
        session,
        PAYMENT_TOPIC,
        {"reservation_id": reservation.id},
        now=now,
        message_id=f"fbpay_{reservation.id}",
    )


async def request_refund(
    session: AsyncSession, reservation: Reservation, amount: int, now: datetime
) -> None:
    """Refunds `amount` of the reservation's payment (once: the message id is the dedupe key
    here and the Idempotency-Key at payments_mock)."""
    if reservation.payment_id is None or amount <= 0:
        return
    await enqueue(
        session,
        REFUND_TOPIC,
        {"reservation_id": reservation.id, "payment_id": reservation.payment_id, "amount": amount},
        now=now,
        message_id=f"fbrefund_{reservation.id}",
    )
