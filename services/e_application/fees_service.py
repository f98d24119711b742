"""The fee of an approved application, paid at payments_mock: the applicant chooses a method,
the service creates the payment (idempotent per attempt) and shows its instructions; the
signed webhook or the reconciler then completes the application. An expired slip leaves the
fee due again, and a new attempt gets a new slip."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession as SaAsyncSession
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application import applications_service, case_history, notices, service_clock
from services.e_application.domain.fees import PaymentMethod
from services.e_application.domain.lifecycle import PaymentStatus, Status, Transition
from services.e_application.models import Application, Attachment, PaymentAttempt
from services.kit.errors import Conflict, UnprocessableContent
from services.kit.payments import (
    MONEY_RECEIVED,
    Payment,
    PaymentEvent,
    PaymentsClient,
    idempotency_key,
)
from services.kit.payments import PaymentStatus as ProviderStatus

SLIP_DAYS = 7
_FINISHED = frozenset(
    {ProviderStatus.PAID, ProviderStatus.SETTLED, ProviderStatus.CANCELED, ProviderStatus.REFUNDED}
)


def _ours(session: SaAsyncSession) -> AsyncSession:
    """The kit hands over the app's own sessions, which are SQLModel's."""
    assert isinstance(session, AsyncSession)
    return session


def instructions(payment: Payment) -> dict[str, Any]:
    """What the applicant needs to pay, as the application shows it."""
    return {
        "method": str(payment.method),
        "amount_yen": payment.amount,
        "expires_at": payment.expires_at.isoformat(),
        "konbini": payment.konbini.model_dump(mode="json") if payment.konbini else None,
        "payeasy": payment.payeasy.model_dump(mode="json") if payment.payeasy else None,
    }


def _description(name_ja: str) -> str:
    return f"{name_ja[:16]} 手数料"[:22]


async def start_payment(
    session: AsyncSession,
    client: PaymentsClient,
    application: Application,
    *,
    method: PaymentMethod,
    card_number: str | None,
    now: datetime,
) -> PaymentAttempt:
    if application.status != Status.AWAITING_PAYMENT:
        raise Conflict(
            f"no fee is due (the state is {application.status})", current_state=application.status
        )
    if application.payment_status == PaymentStatus.PENDING:
        raise Conflict(
            "a payment is open: pay it, or start a new one after it expires",
            current_state=application.status,
            payment_id=application.payment_id,
        )
    spec = await applications_service.spec_of(session, application)
    if method not in spec.payment_methods:
        names = ", ".join(m.value for m in spec.payment_methods)
        raise UnprocessableContent(f"this procedure takes {names}", field="method")
    if (method is PaymentMethod.CARD) != (card_number is not None):
        raise UnprocessableContent(
            "card_number is for the card method, and the card method needs it",
            field="card_number",
        )
    count = (
        await session.exec(
            select(func.count())
            .select_from(PaymentAttempt)
            .where(col(PaymentAttempt.application_id) == application.id)
        )
    ).one()
    attempt = int(count) + 1
    name = application.form.get("name")
    payment = await client.create_payment(
        idempotency_key=idempotency_key(application.id, "fee", str(attempt)),
        amount=application.fee_yen,
        method=method.value,
        description=_description(spec.name_ja),
        reference=application.reference or application.id,
        metadata={"application_id": application.id, "attempt": str(attempt)},
        payer={
            "name": name if isinstance(name, str) else None,
            "email": application.contact_email,
        },
        expires_after_days=None if method is PaymentMethod.CARD else SLIP_DAYS,
        card_number=card_number,
    )
    row = PaymentAttempt(
        payment_id=payment.id,
        application_id=application.id,
        attempt=attempt,
        method=method.value,
        amount_yen=payment.amount,
        status=str(payment.status),
        expires_at=payment.expires_at,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    application.payment_id = payment.id
    application.payment_method = method.value
    application.payment_status = PaymentStatus.PENDING.value
    application.payment_instructions = instructions(payment)
    application.updated_at = now
    await case_history.record(
        session,
        application,
        "payment_started",
        from_status=Status(application.status),
        actor=None,
        now=now,
        data={"payment_id": payment.id, "method": method.value, "attempt": attempt},
    )
    await session.flush()
    if payment.money_received:  # a card is charged at once
        await _paid(session, application, row, payment.paid_via, now)
    return row


async def _paid(
    session: AsyncSession,
    application: Application,
    attempt: PaymentAttempt,
    paid_via: str | None,
    now: datetime,
) -> None:
    if application.status != Status.AWAITING_PAYMENT:
        # A second attempt paid after the first: staff refund it; the history says so.
        await case_history.record(
            session,
            application,
            "payment_duplicate",
            from_status=Status(application.status),
            actor=None,
            now=now,
            internal_comment="二重のお支払い: 返金の手続が必要です",
            data={"payment_id": attempt.payment_id},
        )
        return
    application.payment_status = PaymentStatus.PAID.value
    application.payment_id = attempt.payment_id
    application.completed_at = now
    await case_history.move(
        session,
        application,
        Transition.PAYMENT_RECEIVED,
        actor=None,
        now=now,
        data={"payment_id": attempt.payment_id, "paid_via": paid_via},
    )
    spec = await applications_service.spec_of(session, application)
    documents = bool(await _issued_count(session, application.id))
    await notices.send(
        session,
        application,
        spec,
        notices.Notice.COMPLETED,
        now=now,
        documents=documents,
        paid=True,
    )


async def _issued_count(session: AsyncSession, application_id: str) -> int:
    count = (
        await session.exec(
            select(func.count())
            .select_from(Attachment)
            .where(col(Attachment.application_id) == application_id)
            .where(col(Attachment.kind) == "issued")
        )
    ).one()
    return int(count)


async def on_payment_event(any_session: SaAsyncSession, event: PaymentEvent) -> None:
    """The kit's webhook intake and reconciler call this once per event id, in their
    transaction; statuses are compared, never assumed to arrive in order."""
    session = _ours(any_session)
    attempt = await session.get(PaymentAttempt, event.payment_id)
    if attempt is None:
        return  # not one of ours
    application = await case_history.load_for_update(session, attempt.application_id)
    attempt = await session.get(PaymentAttempt, event.payment_id, with_for_update=True)
    assert attempt is not None
    now = service_clock.now_for(session)
    known = ProviderStatus(attempt.status)
    if known in MONEY_RECEIVED and event.status not in MONEY_RECEIVED:
        return  # an older event arriving late
    if event.status in MONEY_RECEIVED:
        first = known not in MONEY_RECEIVED
        attempt.status = event.status.value
        attempt.updated_at = now
        if first:
            await _paid(session, application, attempt, event.payment.paid_via, now)
    elif event.status in (ProviderStatus.EXPIRED, ProviderStatus.CANCELED):
        attempt.status = event.status.value
        attempt.updated_at = now
        if (
            application.payment_id == attempt.payment_id
            and application.status == Status.AWAITING_PAYMENT
            and application.payment_status == PaymentStatus.PENDING
        ):
            application.payment_status = PaymentStatus.DUE.value
            application.updated_at = now
            await case_history.record(
                session,
                application,
                f"payment_{event.status.value}",
                from_status=Status(application.status),
                actor=None,
                now=now,
                comment="お支払い期限が過ぎました。新しい払込票を発行できます。",
                data={"payment_id": attempt.payment_id},
            )
            spec = await applications_service.spec_of(session, application)
            await notices.send(
                session,
                application,
                spec,
                notices.Notice.PAYMENT_DUE,
                now=now,
                amount=f"{application.fee_yen:,}",
                payment_methods=notices.method_names(
                    application, [m.value for m in spec.payment_methods]
                ),
            )
    await session.flush()


async def pending_payment_ids(
    any_session: SaAsyncSession, after: str | None, limit: int
) -> Sequence[str]:
    """Payments the reconciler re-reads: every attempt not finished whose application still
    waits for its fee (an expired slip may still be paid late)."""
    session = _ours(any_session)
    query = (
        select(PaymentAttempt.payment_id)
        .join(Application, col(Application.id) == col(PaymentAttempt.application_id))
        .where(col(Application.status) == Status.AWAITING_PAYMENT.value)
        .where(col(PaymentAttempt.status).not_in([s.value for s in _FINISHED]))
    )
    if after is not None:
        query = query.where(col(PaymentAttempt.payment_id) > after)
    result = await session.exec(query.order_by(col(PaymentAttempt.payment_id)).limit(limit))
    return list(result.all())
