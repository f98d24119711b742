"""Usage fees at payments_mock: slips and Pay-easy numbers created after the booking commits,
card charges on request, the signed webhook (and the reconciler) confirming or expiring holds,
refunds by the cancellation tiers, and money that arrives after a hold ended refunded whole."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession as SASession
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.facility_booking import notices
from services.facility_booking import reservations_service as reservations
from services.facility_booking.domain.lifecycles import ReservationState
from services.facility_booking.domain.vocabulary import PaymentMethod
from services.facility_booking.facilities_service import SERVICE
from services.facility_booking.models import Registration, Reservation
from services.facility_booking.payment_requests import (
    PAYMENT_TOPIC,
    REFUND_TOPIC,
    VOID_TOPIC,
    request_refund,
)
from services.kit import audit
from services.kit.app import ServiceRuntime
from services.kit.auth import Principal
from services.kit.clock import JST
from services.kit.errors import IllegalTransition, UnprocessableContent
from services.kit.outbox import OutboxHandler, RetryLater, TopicPolicy, Undeliverable, per_message
from services.kit.payments import (
    MONEY_RECEIVED,
    Payment,
    PaymentEvent,
    PaymentRefused,
    PaymentStatus,
    PaymentsUnavailable,
    idempotency_key,
    payments_runtime,
)
from services.kit.tables import OutboxMessage

DESCRIPTION = "施設使用料（デモ）"  # printed at the register: at most 22 characters
# A refund waits for the payment's settlement (確報, business days later).
REFUND_POLICY = TopicPolicy(
    backoff=tuple(timedelta(hours=h) for h in (1, 3, 6, 12, 24, 24, 24, 24, 48)),
    max_attempts=12,
)
_CLOSED = (
    ReservationState.EXPIRED.value,
    ReservationState.CANCELLED.value,
    ReservationState.CANCELLED_BY_FACILITY.value,
)


def payment_details(payment: Payment) -> dict[str, object]:
    return payment.model_dump(
        mode="json",
        include={"id", "status", "expires_at", "konbini", "payeasy", "card"},
        exclude_none=True,
    )


def _details_text(payment: Payment) -> str:
    if payment.konbini is not None:
        lines = [f"払込票: {payment.konbini.voucher_url}"]
        for store in payment.konbini.stores:
            lines.append(
                f"{store.chain}: {store.payment_code or ''} {store.confirmation_number or ''}"
            )
        return "\n".join(lines)
    if payment.payeasy is not None:
        p = payment.payeasy
        return (
            f"収納機関番号: {p.institution_number}\nお客様番号: {p.customer_number}\n"
            f"確認番号: {p.confirmation_number}"
        )
    return ""


async def _payer(session: AsyncSession, reservation: Reservation) -> dict[str, str | None]:
    registration = await session.get(Registration, reservation.registration_id)
    if registration is None:
        return {}
    return {"name": notices.addressee(registration), "email": registration.email}


class FeeHandlers:
    """The outbox handlers of the two topics; payments_mock is reached through the kit."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self.runtime = runtime

    def handlers(self) -> Mapping[str, OutboxHandler]:
        return {
            PAYMENT_TOPIC: per_message(self.create),
            REFUND_TOPIC: per_message(self.refund),
            VOID_TOPIC: per_message(self.void),
        }

    async def create(self, message: OutboxMessage) -> None:
        db, clock = self.runtime.db, self.runtime.clock
        reservation_id = str(message.payload["reservation_id"])
        async with db.session(write=False) as session:
            reservation = await session.get(Reservation, reservation_id)
            if reservation is None or reservation.status != ReservationState.HELD.value:
                return  # cancelled or expired before its slip was made: nothing to pay
            payer = await _payer(session, reservation)
        deadline = reservation.hold_expires_at or reservation.starts_at
        client = payments_runtime(self.runtime).client
        try:
            payment = await client.create_payment(
                idempotency_key=idempotency_key(reservation.id, "fee"),
                amount=reservation.fee,
                method=str(reservation.payment_method),
                description=DESCRIPTION,
                reference=reservation.id,
                metadata={"reservation_id": reservation.id},
                payer=payer,
                expires_at=deadline.astimezone(JST).date(),
            )
        except PaymentsUnavailable as exc:
            raise RetryLater(exc.detail) from exc
        except PaymentRefused as exc:
            raise Undeliverable(exc.detail) from exc
        now = clock.now()
        async with db.session() as session:
            stored = await session.exec(
                update(Reservation)
                .where(col(Reservation.id) == reservation.id, col(Reservation.payment_id).is_(None))
                .values(payment_id=payment.id, payment_details=payment_details(payment))
            )
            fresh = await session.get(Reservation, reservation.id)
            mine = fresh is not None and getattr(stored, "rowcount", 0) == 1
            if mine and fresh is not None and fresh.status == ReservationState.HELD.value:
                await notices.payment_due(session, fresh, now, details=_details_text(payment))
                return
        if fresh is not None and fresh.status != ReservationState.HELD.value:
            # The hold ended while the slip was being made; paid meanwhile, the webhook
            # refunds it.
            with contextlib.suppress(IllegalTransition, PaymentsUnavailable):
                await client.cancel(payment.id, reason="reservation ended before payment")

    async def void(self, message: OutboxMessage) -> None:
        client = payments_runtime(self.runtime).client
        try:
            await client.cancel(str(message.payload["payment_id"]), reason="施設予約の終了")
        except IllegalTransition:
            return  # paid, expired or cancelled already: nothing to void
        except PaymentsUnavailable as exc:
            raise RetryLater(exc.detail) from exc

    async def refund(self, message: OutboxMessage) -> None:
        payload = message.payload
        client = payments_runtime(self.runtime).client
        payment_id = str(payload["payment_id"])
        amount = int(payload["amount"])
        try:
            payment = await client.get_payment(payment_id)
            if payment.amount_refunded >= amount:
                return  # done already (a retry after a lost answer)
            await client.refund(
                payment_id,
                amount=amount,
                expected_refundable=payment.amount_refundable,
                idempotency_key=idempotency_key(str(payload["reservation_id"]), "refund"),
                reason="施設予約の取消",
            )
        except PaymentsUnavailable as exc:
            raise RetryLater(exc.detail) from exc
        except IllegalTransition as exc:  # not settled yet: refunds start at 確報
            raise RetryLater(exc.detail) from exc
        except PaymentRefused as exc:
            raise Undeliverable(exc.detail) from exc
        async with self.runtime.db.session() as session:
            await audit.record(
                session,
                None,
                "reservation.refunded",
                str(payload["reservation_id"]),
                service=SERVICE,
                now=self.runtime.clock.now(),
                changes={"payment_id": payment_id, "amount": amount},
            )


def _model_session(session: SASession) -> AsyncSession:
    """The kit hands over the app's sessions, which are SQLModel's."""
    assert isinstance(session, AsyncSession)
    return session


async def _find(session: AsyncSession, event: PaymentEvent) -> Reservation | None:
    found = (
        await session.exec(
            select(Reservation).where(Reservation.payment_id == event.payment_id).limit(1)
        )
    ).first()
    if found is None and event.reference and event.reference.startswith("rsv_"):
        found = await session.get(Reservation, event.reference)
    return found


async def on_payment_event(any_session: SASession, event: PaymentEvent, _now: datetime) -> None:
    """Applied once per event id (webhook or reconciler), in the inbox row's transaction.
    A reservation moves at the provider's time of the event (`occurred_at`)."""
    session = _model_session(any_session)
    reservation = await _find(session, event)
    if reservation is None:
        return
    now = event.occurred_at
    if event.status in MONEY_RECEIVED:
        if reservation.status == ReservationState.HELD.value:
            if reservation.payment_id is None:
                reservation.payment_id = event.payment_id
                session.add(reservation)
            await reservations.pay(
                session,
                reservation,
                event.amount,
                actor=None,
                now=now,
                note=f"paid via {event.payment.paid_via or event.payment.method}",
            )
        elif reservation.status in _CLOSED and reservation.paid_amount == 0:
            # Money for a hold that already ended (a slip paid at the register at the last
            # minute): nothing was delivered, so all of it goes back.
            if reservation.payment_id is None:
                reservation.payment_id = event.payment_id
            reservation.paid_amount = event.amount
            reservation.refund_amount = event.amount
            reservation.refund_percent = 100
            session.add(reservation)
            await session.flush()
            await request_refund(session, reservation, event.amount, now)
    elif (
        event.status in (PaymentStatus.EXPIRED, PaymentStatus.CANCELED)
        and reservation.status == ReservationState.HELD.value
    ):
        await reservations.expire(session, reservation, now)


async def pending_payment_ids(
    any_session: SASession, after: str | None, limit: int
) -> Sequence[str]:
    session = _model_session(any_session)
    query = (
        select(Reservation.payment_id)
        .where(
            Reservation.status == ReservationState.HELD.value,
            col(Reservation.payment_id).is_not(None),
        )
        .order_by(col(Reservation.payment_id))
        .limit(limit)
    )
    if after is not None:
        query = query.where(col(Reservation.payment_id) > after)
    return [p for p in (await session.exec(query)).all() if p is not None]


async def charge_card(
    session: AsyncSession,
    runtime: ServiceRuntime,
    reservation: Reservation,
    card_number: str,
    *,
    actor: Principal,
    now: datetime,
) -> Reservation:
    """Charges a test card for a held card reservation; paid → confirmed at once (the webhook
    that follows finds it confirmed and changes nothing)."""
    if reservation.payment_method != PaymentMethod.CARD.value:
        raise UnprocessableContent(
            f"this reservation is paid by {reservation.payment_method}", field="card_number"
        )
    if reservation.status != ReservationState.HELD.value:
        raise IllegalTransition(reservation.status, "pay")
    attempt = hashlib.sha256(card_number.encode()).hexdigest()[:16]
    client = payments_runtime(runtime).client
    payment = await client.create_payment(
        idempotency_key=idempotency_key(reservation.id, "card", attempt),
        amount=reservation.fee,
        method="card",
        description=DESCRIPTION,
        reference=reservation.id,
        metadata={"reservation_id": reservation.id},
        payer=await _payer(session, reservation),
        card_number=card_number,
    )
    if payment.money_received:
        reservation.payment_id = payment.id
        reservation.payment_details = payment_details(payment)
        session.add(reservation)
        await session.flush()
        await reservations.pay(
            session, reservation, payment.amount, actor=actor, now=now, note="card"
        )
        return reservation
    error = payment.card.last_error if payment.card else None
    message = (error.message_ja if error else None) or "the card was not charged"
    raise PaymentRefused(message, field="card_number", retryable=bool(error and error.retryable))


def handlers(runtime: ServiceRuntime) -> Mapping[str, OutboxHandler]:
    return FeeHandlers(runtime).handlers()
