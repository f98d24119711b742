"""The fee of an approved application, paid at payments_mock: the applicant chooses a method,
the service creates the payment (idempotent per attempt) and shows its instructions; the
signed webhook or the reconciler then completes the application. An expired slip leaves the
fee due again, and a new attempt gets a new slip."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession as SaAsyncSession
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application import (
    applications_service,
    attachments_service,
    case_history,
    notices,
)
from services.e_application.domain.fees import PaymentMethod
from services.e_application.domain.lifecycle import PaymentStatus, Status, Transition
from services.e_application.models import Application, PaymentAttempt
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
        "card": payment.card.model_dump(mode="json") if payment.card else None,
    }


def _card_tag(card_number: str | None) -> str:
    if card_number is None:
        return "none"
    return hashlib.sha256(card_number.encode()).hexdigest()[:12]


def _description(name_ja: str) -> str:
    return f"{name_ja[:16]} 手数料"[:22]


@dataclass(frozen=True, slots=True)
class PaymentPlan:
    """What a fee payment will be, decided in a read: the network calls that make it happen
    run outside any transaction, and `record_payment` writes the outcome afterwards."""

    application_id: str
    attempt: int
    method: PaymentMethod
    declined_payment_id: str | None  # a declined card's payment, canceled before the new one
    request: dict[str, Any]  # PaymentsClient.create_payment's arguments


async def plan_payment(
    session: AsyncSession,
    application: Application,
    *,
    method: PaymentMethod,
    card_number: str | None,
) -> PaymentPlan:
    if application.status != Status.AWAITING_PAYMENT:
        raise Conflict(
            f"no fee is due (the state is {application.status})", current_state=application.status
        )
    declined = None
    if application.payment_status == PaymentStatus.PENDING:
        current = await session.get(PaymentAttempt, application.payment_id or "")
        if current is None or current.method != PaymentMethod.CARD.value:
            raise _payment_open(application)
        declined = current.payment_id  # checked with payments_mock before it is replaced
    spec = await applications_service.spec_of(session, application)
    if method not in spec.payment_methods:
        names = ", ".join(m.value for m in spec.payment_methods)
        raise UnprocessableContent(f"this procedure takes {names}", field="method")
    if (method is PaymentMethod.CARD) != (card_number is not None):
        raise UnprocessableContent(
            "card_number is for the card method, and the card method needs it",
            field="card_number",
        )
    attempt = await _attempts(session, application.id) + 1
    name = application.form.get("name")
    request: dict[str, Any] = {
        # A retried request finds the same payment; another method or card is another one.
        "idempotency_key": idempotency_key(
            application.id, "fee", str(attempt), method.value, _card_tag(card_number)
        ),
        "amount": application.fee_yen,
        "method": method.value,
        "description": _description(spec.name_ja),
        "reference": application.reference or application.id,
        "metadata": {"application_id": application.id, "attempt": str(attempt)},
        "payer": {
            "name": name if isinstance(name, str) else None,
            "email": application.contact_email,
        },
        "expires_after_days": None if method is PaymentMethod.CARD else SLIP_DAYS,
        "card_number": card_number,
    }
    return PaymentPlan(application.id, attempt, method, declined, request)


async def make_payment(client: PaymentsClient, plan: PaymentPlan) -> tuple[Payment, Payment | None]:
    """The plan's calls at payments_mock (no transaction is open): cancel a declined card's
    payment, then create the new one. Returns the new payment and the canceled one."""
    canceled = None
    if plan.declined_payment_id is not None:
        payment = await client.get_payment(plan.declined_payment_id)
        declined = payment.card is not None and payment.card.last_error is not None
        if payment.status is not ProviderStatus.AWAITING_PAYMENT or not declined:
            raise Conflict(
                "the card payment is still being processed",
                current_state=Status.AWAITING_PAYMENT.value,
                payment_id=plan.declined_payment_id,
            )
        canceled = await client.cancel(
            plan.declined_payment_id, reason="card declined; new attempt"
        )
    return await client.create_payment(**plan.request), canceled


async def record_payment(
    session: AsyncSession,
    application: Application,
    plan: PaymentPlan,
    payment: Payment,
    canceled: Payment | None,
    *,
    now: datetime,
) -> PaymentAttempt:
    """Writes what `make_payment` did, on the application locked again: a request that
    raced ahead of this one wins, and this one is a 409 (or the same answer, for a retry)."""
    recorded = await session.get(PaymentAttempt, payment.id)
    if recorded is not None:  # a retry of a request that was recorded already
        return recorded
    if application.status != Status.AWAITING_PAYMENT:
        raise Conflict(
            f"no fee is due (the state is {application.status})", current_state=application.status
        )
    if await _attempts(session, application.id) != plan.attempt - 1:
        raise _payment_open(application)
    if canceled is not None:
        current = await session.get(PaymentAttempt, plan.declined_payment_id or "")
        if current is None or application.payment_id != current.payment_id:
            raise _payment_open(application)
        current.status = str(canceled.status)
        current.updated_at = now
        application.payment_status = PaymentStatus.DUE.value
        await case_history.record(
            session,
            application,
            "payment_canceled",
            from_status=Status(application.status),
            actor=case_history.SYSTEM,
            now=now,
            comment="カードが承認されなかったため、お支払いをやり直します。",
            data={"payment_id": current.payment_id},
        )
    elif application.payment_status == PaymentStatus.PENDING:
        raise _payment_open(application)
    row = PaymentAttempt(
        payment_id=payment.id,
        application_id=application.id,
        attempt=plan.attempt,
        method=plan.method.value,
        amount_yen=payment.amount,
        status=str(payment.status),
        expires_at=payment.expires_at,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    application.payment_id = payment.id
    application.payment_method = plan.method.value
    application.payment_status = PaymentStatus.PENDING.value
    application.payment_instructions = instructions(payment)
    application.updated_at = now
    await case_history.record(
        session,
        application,
        "payment_started",
        from_status=Status(application.status),
        actor=case_history.SYSTEM,
        now=now,
        data={"payment_id": payment.id, "method": plan.method.value, "attempt": plan.attempt},
    )
    await session.flush()
    if payment.money_received:  # a card is charged at once
        await _paid(session, application, row, payment.paid_via, now)
    return row


def _payment_open(application: Application) -> Conflict:
    return Conflict(
        "a payment is open: pay it, or start a new one after it expires",
        current_state=application.status,
        payment_id=application.payment_id,
    )


async def _attempts(session: AsyncSession, application_id: str) -> int:
    count = (
        await session.exec(
            select(func.count())
            .select_from(PaymentAttempt)
            .where(col(PaymentAttempt.application_id) == application_id)
        )
    ).one()
    return int(count)


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
            actor=case_history.SYSTEM,
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
        actor=case_history.SYSTEM,
        now=now,
        data={"payment_id": attempt.payment_id, "paid_via": paid_via},
    )
    spec = await applications_service.spec_of(session, application)
    documents = await attachments_service.has_issued_documents(session, application.id)
    await notices.send(
        session,
        application,
        spec,
        notices.Notice.COMPLETED,
        now=now,
        documents=documents,
        paid=True,
    )


async def on_payment_event(any_session: SaAsyncSession, event: PaymentEvent, now: datetime) -> None:
    """The kit's webhook intake and reconciler call this once per event id, in their
    transaction; statuses are compared, never assumed to arrive in order."""
    session = _ours(any_session)
    attempt = await session.get(PaymentAttempt, event.payment_id)
    if attempt is None:
        return  # not one of ours
    application = await case_history.load_for_update(session, attempt.application_id)
    attempt = await session.get(PaymentAttempt, event.payment_id, with_for_update=True)
    assert attempt is not None
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
                actor=case_history.SYSTEM,
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
