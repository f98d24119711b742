"""Payments' use cases: creation, card attempts, payments at the register, late payments,
cancellation and refunds, and the one `transition()` every state change goes through.

Plain functions over a session (no FastAPI): routes parse and authorize, then call these;
jobs call them too. `transition()` applies the domain state machine, appends the history row,
fans the event out to webhook endpoints and writes the audit event, all in the caller's
transaction. Reading lives in `payment_reads`, scheduled sweeps in `payment_sweeps`.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit import audit
from services.kit.auth import Principal
from services.kit.clock import JST
from services.kit.errors import Conflict, NotFound, UnprocessableContent
from services.kit.ids import new_id
from services.payments_mock import payment_reads, webhooks_service
from services.payments_mock.domain import calendar, cards, gs1_barcode, konbini, payeasy
from services.payments_mock.domain.digit_codes import derive_digits
from services.payments_mock.domain.lifecycle import (
    PAYMENTS,
    Channel,
    PaymentState,
    RefundMethod,
    RefundStatus,
    Transition,
    check_refund,
    event_type,
)
from services.payments_mock.domain.methods import MIN_AMOUNT, max_amount
from services.payments_mock.models import Payment, PaymentCode, PaymentEvent, Refund
from services.payments_mock.schemas import (
    CardError,
    PaymentCreate,
    RefundCreate,
)
from services.payments_mock.settings import Settings

SERVICE = "payments_mock"

# --- history and transitions ---------------------------------------------------------------


async def _record_event(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    *,
    type_: str,
    transition: Transition | None,
    from_status: str | None,
    actor: Principal | None,
    now: datetime,
    data: dict[str, Any],
    refunds: Sequence[Refund] | None = None,
) -> PaymentEvent:
    """`refunds`: the payment's refunds when the caller knows them (none, for a new payment),
    saving a query; the rows go out at the next flush, together."""
    payment.version += 1
    payment.updated_at = now
    session.add(payment)
    event = PaymentEvent(
        id=new_id("evt"),
        payment_id=payment.id,
        seq=payment.version,
        type=type_,
        transition=transition.value if transition else None,
        from_status=from_status,
        to_status=payment.status,
        actor=actor.sub if actor else None,
        data=data,
        occurred_at=now,
    )
    session.add(event)
    if refunds is None:
        refunds = await payment_reads.refunds_of(session, payment)
    known_refunds = refunds

    def event_data() -> dict[str, Any]:  # the payment as the API shows it, for subscribers only
        snapshot = payment_reads.to_read(settings, payment, known_refunds).model_dump(mode="json")
        return {"object": snapshot, **data}

    await webhooks_service.fan_out(
        session,
        owner=payment.owner,
        event_id=event.id,
        event_type=type_,
        data=event_data,
        now=now,
    )
    await audit.record(
        session,
        actor,
        type_,
        payment.id,
        service=SERVICE,
        now=now,
        changes={"status": [from_status, payment.status], **data},
    )
    return event


async def transition(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    step: Transition,
    *,
    actor: Principal | None,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> PaymentEvent:
    """Applies `step` (IllegalTransition → 409 naming the state) and records it."""
    before = payment.status
    payment.status = PAYMENTS.apply(before, step).value
    return await _record_event(
        session,
        settings,
        payment,
        type_=event_type(step),
        transition=step,
        from_status=before,
        actor=actor,
        now=now,
        data=dict(data or {}),
    )


# --- creation ------------------------------------------------------------------------------


def _check_method_fields(body: PaymentCreate) -> None:
    limit = max_amount(body.method)
    if body.amount > limit:
        raise UnprocessableContent(
            f"{body.method} payments take {MIN_AMOUNT} to {limit:,} yen", field="amount"
        )
    if body.method == Channel.CARD and body.card is None:
        raise UnprocessableContent("a card payment needs card.number", field="card")
    if body.method != Channel.CARD and body.card is not None:
        raise UnprocessableContent("card is only for method card", field="card")


async def create_payment(
    session: AsyncSession,
    settings: Settings,
    body: PaymentCreate,
    *,
    actor: Principal,
    now: datetime,
) -> Payment:
    _check_method_fields(body)
    expires_at = calendar.expiry(body.expires_at, body.expires_after_days, now)
    outcome = cards.outcome_for(body.card.number) if body.card is not None else None
    payment = Payment(
        id=new_id("pay"),
        owner=actor.sub,
        method=body.method.value,
        status=PaymentState.AWAITING_PAYMENT.value,
        amount=body.amount,
        description=body.description,
        payer_name=body.payer.name,
        payer_email=body.payer.email,
        payer_phone=body.payer.phone,
        reference=body.reference,
        metadata_=dict(body.metadata),
        created_at=now,
        updated_at=now,
        expires_at=expires_at,
    )
    secret = payment_reads.code_secret(settings)
    if body.method == Channel.KONBINI:
        slip = gs1_barcode.build(
            company_code=settings.company_code,
            free_field=derive_digits(
                secret, "konbini:barcode", payment.id, gs1_barcode.FREE_FIELD_LENGTH
            ),
            deadline=expires_at.astimezone(JST).date(),
            amount=body.amount,
        )
        payment.barcode = slip.digits
    session.add(payment)
    codes: list[dict[str, Any]] = []
    if body.method == Channel.KONBINI:
        codes = [  # from the details every read shows (built once, cached for those reads)
            {
                "payment_id": payment.id,
                "kind": store.chain.value,
                "code": store.payment_code,
                "confirmation": store.confirmation_number,
            }
            for store in payment_reads.konbini_details(settings, payment).stores
        ]
    elif body.method == Channel.PAYEASY:
        numbers = payment_reads.payeasy_numbers(settings, payment.id)
        codes = [
            {
                "payment_id": payment.id,
                "kind": "payeasy",
                "code": numbers.customer_number,
                "confirmation": numbers.confirmation_number,
            }
        ]
    await _record_event(
        session,
        settings,
        payment,
        type_="payment.created",
        transition=None,
        from_status=None,
        actor=actor,
        now=now,
        data={},
        refunds=(),
    )
    if codes:  # one executemany once the payment row is in; nothing reads their ids back
        await session.flush()
        await (await session.connection()).execute(insert(PaymentCode), codes)
    if outcome is not None:
        await _charge(session, settings, payment, outcome, actor=actor, now=now)
    return payment


async def _charge(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    outcome: cards.CardOutcome,
    *,
    actor: Principal,
    now: datetime,
) -> None:
    payment.card_brand = outcome.brand.value if outcome.brand else None
    payment.card_last4 = outcome.last4
    if outcome.kind is cards.OutcomeKind.SUCCEEDED:
        payment.card_error = None
        await _mark_paid(
            session,
            settings,
            payment,
            Transition.PAY,
            paid_at=now,
            via=payment.card_brand or "card",
            actor=actor,
            now=now,
        )
        return
    payment.card_error = CardError(
        kind=outcome.kind.value,
        decline_code=outcome.decline_code,
        message_ja=outcome.message_ja,
        retryable=outcome.retryable,
    ).model_dump()
    payment.updated_at = now
    session.add(payment)
    await session.flush()


async def card_attempt(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    number: str,
    *,
    actor: Principal,
    now: datetime,
) -> Payment:
    if payment.method != Channel.CARD:
        raise Conflict("only card payments take card attempts", current_state=payment.status)
    outcome = cards.outcome_for(number)
    PAYMENTS.require(payment.status, Transition.PAY)  # 409 naming the current state
    await _charge(session, settings, payment, outcome, actor=actor, now=now)
    return payment


# --- paying --------------------------------------------------------------------------------


async def _mark_paid(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    step: Transition,
    *,
    paid_at: datetime,
    via: str,
    actor: Principal | None,
    now: datetime,
) -> PaymentEvent:
    payment.paid_at = paid_at
    payment.received_at = now
    payment.paid_via = via
    payment.late = step is Transition.LATE_PAY
    payment.settles_at = calendar.business_days_later(now, settings.settlement_business_days)
    return await transition(
        session,
        settings,
        payment,
        step,
        actor=actor,
        now=now,
        data={"late": payment.late, "paid_via": via, "paid_at": paid_at.isoformat()},
    )


async def pay_at_register(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    *,
    paid_at: datetime,
    via: str,
    actor: Principal | None,
    now: datetime,
) -> Payment:
    """A payer paid at `paid_at`; the notice reaches us `now`. Before the deadline but
    arriving after the payment expired, it is a late payment (still paid)."""
    calendar.check_era(paid_at, "paid_at")
    if paid_at > now:
        raise UnprocessableContent("paid_at cannot be in the future", field="paid_at")
    if paid_at < payment.created_at:
        raise UnprocessableContent("paid_at is before the payment was created", field="paid_at")
    if paid_at > payment.expires_at:
        raise Conflict(
            "the payment had expired when it was presented; the store refuses it",
            current_state=PaymentState.EXPIRED.value,
            transition=Transition.PAY.value,
        )
    step = Transition.LATE_PAY if payment.status == PaymentState.EXPIRED else Transition.PAY
    await _mark_paid(
        session, settings, payment, step, paid_at=paid_at, via=via, actor=actor, now=now
    )
    return payment


async def _by_code(
    session: AsyncSession, kind: str, code: str, confirmation: str | None
) -> Payment | None:
    row = (
        await session.exec(
            select(PaymentCode).where(col(PaymentCode.kind) == kind, col(PaymentCode.code) == code)
        )
    ).one_or_none()
    if row is None or not hmac.compare_digest(row.confirmation or "", confirmation or ""):
        return None
    return await payment_reads.load(session, row.payment_id, for_update=True)


def _presented(payment: Payment | None, method: Channel, owner: str | None) -> Payment | None:
    """The payment the numbers name, if it is `method` and (unless `owner` is None, an
    operator) the caller's own: another client's payment is as unknown as a wrong number."""
    if payment is None or payment.method != method:
        return None
    if owner is not None and payment.owner != owner:
        return None
    return payment


async def find_konbini(
    session: AsyncSession, chain: str, code: str, confirmation: str | None, *, owner: str | None
) -> Payment:
    """The konbini payment a register scans or keys in; `owner` None: any client's."""
    lookup = konbini.parse_lookup(chain, code, confirmation)
    payment: Payment | None
    if lookup.kind == "barcode":
        assert lookup.barcode is not None
        found = (
            await session.exec(
                select(Payment.id).where(col(Payment.barcode) == lookup.barcode.digits)
            )
        ).one_or_none()
        payment = (
            await payment_reads.load(session, found, for_update=True) if found is not None else None
        )
    else:
        assert lookup.payment_code is not None
        payment = await _by_code(
            session, lookup.chain.value, lookup.payment_code, lookup.confirmation_number
        )
    presented = _presented(payment, Channel.KONBINI, owner)
    if presented is None:
        raise NotFound("no convenience-store payment has these numbers")
    return presented


async def find_payeasy(
    session: AsyncSession,
    settings: Settings,
    institution: str,
    customer: str,
    confirmation: str,
    *,
    owner: str | None,
) -> Payment:
    """The Pay-easy payment an ATM or net bank is given; `owner` None: any client's."""
    presented = payeasy.parse_numbers(institution, customer, confirmation)
    if presented.institution_number != settings.payeasy_institution_number:
        raise NotFound("no collecting institution has this number")
    payment = await _by_code(
        session, "payeasy", presented.customer_number, presented.confirmation_number
    )
    found = _presented(payment, Channel.PAYEASY, owner)
    if found is None:
        raise NotFound("no Pay-easy payment has these numbers")
    payeasy.require_match(payment_reads.payeasy_numbers(settings, found.id), presented)
    return found


async def late_payment(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    *,
    chain: str,
    minutes_before_expiry: int,
    actor: Principal | None,
    now: datetime,
) -> Payment:
    """The payer paid at the register shortly before the deadline; the notice comes now,
    after the payment expired."""
    if payment.method != Channel.KONBINI:
        raise Conflict("late payments happen at convenience stores", current_state=payment.status)
    PAYMENTS.require(payment.status, Transition.LATE_PAY)  # 409 naming the current state
    paid_at = max(payment.created_at, payment.expires_at - timedelta(minutes=minutes_before_expiry))
    return await pay_at_register(
        session, settings, payment, paid_at=paid_at, via=chain, actor=actor, now=now
    )


# --- cancel, refund ------------------------------------------------------------------------


async def cancel(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    *,
    reason: str | None,
    actor: Principal,
    now: datetime,
) -> Payment:
    payment.canceled_at = now
    await transition(
        session, settings, payment, Transition.CANCEL, actor=actor, now=now, data={"reason": reason}
    )
    return payment


async def refund(
    session: AsyncSession,
    settings: Settings,
    payment: Payment,
    body: RefundCreate,
    *,
    actor: Principal,
    now: datetime,
) -> Refund:
    """Refunds part or all of `payment` (changed in place) and returns the new refund."""
    PAYMENTS.require(payment.status, Transition.PARTIAL_REFUND)  # refunds start once settled
    plan = check_refund(
        payment.amount,
        payment.amount_refunded,
        body.amount,
        body.expected_refundable,
        channel=Channel(payment.method),
    )
    card = plan.method is RefundMethod.CARD
    completes_at = now if card else calendar.business_days_later(now, settings.refund_business_days)
    refund_row = Refund(
        id=new_id("re"),
        payment_id=payment.id,
        amount=plan.amount,
        method=plan.method.value,
        status=RefundStatus.COMPLETED if card else RefundStatus.PENDING,
        reason=body.reason,
        created_at=now,
        completes_at=completes_at,
        completed_at=now if card else None,
    )
    session.add(refund_row)
    payment.amount_refunded += plan.amount
    await session.flush()
    await transition(
        session,
        settings,
        payment,
        plan.transition,
        actor=actor,
        now=now,
        data={
            "refund_id": refund_row.id,
            "refund_amount": plan.amount,
            "refund_method": plan.method.value,
            "refundable_after": plan.refundable_after,
        },
    )
    return refund_row
