"""Payments: create (idempotent), read, list, history, cancel, refund, card attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from services.kit.deps import ClockDep, SessionDep
from services.kit.errors import UnprocessableContent
from services.kit.idempotency import Idempotency
from services.kit.pagination import Cursor, Limit
from services.payments_mock import payment_reads as reads
from services.payments_mock import payments_service as service
from services.payments_mock.deps import PaymentId, Reader, RefundId, SettingsDep, Writer
from services.payments_mock.domain import calendar
from services.payments_mock.domain.lifecycle import Channel, PaymentState
from services.payments_mock.schemas import (
    CancelCreate,
    CardAttemptCreate,
    PaymentCreate,
    PaymentEventList,
    PaymentList,
    PaymentRead,
    RefundCreate,
    RefundRead,
)

router = APIRouter(prefix="/v1/payments", tags=["payments"])


@router.post(
    "",
    response_model=PaymentRead,
    status_code=201,
    responses={200: {"model": PaymentRead, "description": "an Idempotency-Key replay"}},
)
async def create_payment(
    body: PaymentCreate,
    principal: Writer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    idem: Idempotency,
) -> Response:
    """Creates a payment. konbini: per-chain codes, the 44-digit GS1-128 barcode and a voucher
    URL; payeasy: 収納機関番号・お客様番号・確認番号; card: charged at once with `card.number`.

    Test cards: 4242424242424242, 5555555555554444, 3566002020360505, 378282246310005 succeed;
    4000000000000002 (generic_decline), 4000000000009995 and 3530111333300000
    (insufficient_funds) are declined; 4000000000000119 fails like a network error (retryable).
    A declined or failed card leaves the payment `awaiting_payment` with `card.last_error`;
    retry with `POST /v1/payments/{id}/card-attempts`.

    Amounts: 1–999,999 yen for konbini and Pay-easy (the barcode's field width; real stores
    refuse more than 300,000 yen per slip), up to 9,999,999 yen for cards.
    """
    if (replay := await idem.begin(body)) is not None:
        return replay
    now = clock.now()
    payment = await service.create_payment(session, settings, body, actor=principal, now=now)
    return await idem.complete(  # new: no refunds yet
        201, reads.to_read(settings, payment), location=f"/v1/payments/{payment.id}"
    )


@router.get("", response_model=PaymentList)
async def list_payments(
    principal: Reader,
    session: SessionDep,
    settings: SettingsDep,
    reference: Annotated[str | None, Query(max_length=255)] = None,
    status: PaymentState | None = None,
    method: Channel | None = None,
    created_from: Annotated[datetime | None, Query(description="created at or after")] = None,
    created_to: Annotated[datetime | None, Query(description="created before")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PaymentList:
    for name, value in (("created_from", created_from), ("created_to", created_to)):
        if value is not None and value.tzinfo is None:
            raise UnprocessableContent(f"{name} needs a UTC offset", field=name)
        calendar.check_era(value, name)
    filters = reads.ListFilter(
        owner=principal.sub,
        reference=reference,
        status=status,
        method=method,
        created_from=created_from,
        created_to=created_to,
    )
    rows, next_cursor = await reads.list_payments(session, filters, limit=limit, cursor=cursor)
    items = [reads.to_read(settings, row.payment, row.refunds) for row in rows]
    return PaymentList(items=items, next_cursor=next_cursor)


@router.get("/{payment_id}", response_model=PaymentRead)
async def get_payment(
    payment_id: PaymentId, principal: Reader, session: SessionDep, settings: SettingsDep
) -> PaymentRead:
    return await reads.read_owned(session, settings, payment_id, principal.sub)


@router.get("/{payment_id}/events", response_model=PaymentEventList)
async def list_payment_events(
    payment_id: PaymentId,
    principal: Reader,
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> PaymentEventList:
    """The append-only history of the payment, oldest first."""
    await reads.get_owned(session, payment_id, principal.sub)
    items, next_cursor = await reads.list_events(session, payment_id, limit=limit, cursor=cursor)
    return PaymentEventList(items=items, next_cursor=next_cursor)


@router.post("/{payment_id}/cancel", response_model=PaymentRead)
async def cancel_payment(
    payment_id: PaymentId,
    principal: Writer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    body: CancelCreate | None = None,
) -> PaymentRead:
    payment = await reads.get_owned(session, payment_id, principal.sub, for_update=True)
    await service.cancel(
        session,
        settings,
        payment,
        reason=body.reason if body else None,
        actor=principal,
        now=clock.now(),
    )
    return await reads.read(session, settings, payment)


@router.post(
    "/{payment_id}/refunds",
    response_model=PaymentRead,
    status_code=201,
    responses={200: {"model": PaymentRead, "description": "an Idempotency-Key replay"}},
)
async def refund_payment(
    payment_id: PaymentId,
    body: RefundCreate,
    principal: Writer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    idem: Idempotency,
) -> Response:
    """Refunds a settled payment. `expected_refundable` must equal what is still refundable
    (`amount_refundable`), so a stale view cannot refund twice. Konbini and Pay-easy money goes
    back by bank transfer (pending for some business days); card refunds complete at once.
    Answers with the payment (its `refunds` include the new one); `Location` names the new
    refund."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    payment = await reads.get_owned(session, payment_id, principal.sub, for_update=True)
    refund = await service.refund(
        session, settings, payment, body, actor=principal, now=clock.now()
    )
    return await idem.complete(
        201,
        await reads.read(session, settings, payment),
        location=f"/v1/payments/{payment.id}/refunds/{refund.id}",
    )


@router.get("/{payment_id}/refunds/{refund_id}", response_model=RefundRead)
async def get_refund(
    payment_id: PaymentId, refund_id: RefundId, principal: Reader, session: SessionDep
) -> RefundRead:
    """One refund of the payment, as its `refunds` list shows it (the create's `Location`)."""
    return await reads.read_refund(session, payment_id, refund_id, principal.sub)


@router.post("/{payment_id}/card-attempts", response_model=PaymentRead)
async def card_attempt(
    payment_id: PaymentId,
    body: CardAttemptCreate,
    principal: Writer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> PaymentRead:
    """Charges another card (or the same after a network error) for an unpaid card payment."""
    payment = await reads.get_owned(session, payment_id, principal.sub, for_update=True)
    await service.card_attempt(
        session, settings, payment, body.card.number, actor=principal, now=clock.now()
    )
    return await reads.read(session, settings, payment)
