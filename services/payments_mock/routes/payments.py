"""Payments: create (idempotent), read, list, history, cancel, refund, card attempts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from services.kit.deps import ClockDep, SessionDep
from services.kit.errors import UnprocessableContent
from services.kit.idempotency import Idempotency
from services.kit.pagination import Cursor, Limit, decode_cursor, encode_cursor
from services.payments_mock import payments_service as service
from services.payments_mock.deps import PaymentId, Reader, SettingsDep, Writer
from services.payments_mock.schemas import (
    CancelCreate,
    CardAttemptCreate,
    Method,
    PaymentCreate,
    PaymentEventList,
    PaymentList,
    PaymentRead,
    RefundCreate,
    Status,
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
    return await idem.complete(201, service.to_read(settings, payment))  # new: no refunds yet


@router.get("", response_model=PaymentList)
async def list_payments(
    principal: Reader,
    session: SessionDep,
    settings: SettingsDep,
    reference: Annotated[str | None, Query(max_length=255)] = None,
    status: Status | None = None,
    method: Method | None = None,
    created_from: Annotated[datetime | None, Query(description="created at or after")] = None,
    created_to: Annotated[datetime | None, Query(description="created before")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> PaymentList:
    for name, value in (("created_from", created_from), ("created_to", created_to)):
        if value is not None and value.tzinfo is None:
            raise UnprocessableContent(f"{name} needs a UTC offset", field=name)
        service.check_era(value, name)
    after = decode_cursor(cursor, str)
    filters = service.ListFilter(
        owner=principal.sub,
        reference=reference,
        status=status,
        method=method,
        created_from=created_from,
        created_to=created_to,
    )
    rows, more = await service.list_payments(session, filters, limit=limit, after=after)
    items = [service.to_read(settings, row.payment, row.refunds) for row in rows]
    next_cursor = encode_cursor(rows[-1].payment.id) if more else None
    return PaymentList(items=items, next_cursor=next_cursor)


@router.get("/{payment_id}", response_model=PaymentRead)
async def get_payment(
    payment_id: PaymentId, principal: Reader, session: SessionDep, settings: SettingsDep
) -> PaymentRead:
    return await service.read_owned(session, settings, payment_id, principal.sub)


@router.get("/{payment_id}/events", response_model=PaymentEventList)
async def list_payment_events(
    payment_id: PaymentId,
    principal: Reader,
    session: SessionDep,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> PaymentEventList:
    """The append-only history of the payment, oldest first."""
    await service.get_owned(session, payment_id, principal.sub)
    after = decode_cursor(cursor, int)
    items, more = await service.list_events(session, payment_id, limit=limit, after=after)
    return PaymentEventList(
        items=items, next_cursor=encode_cursor(items[-1].seq) if more and items else None
    )


@router.post("/{payment_id}/cancel", response_model=PaymentRead)
async def cancel_payment(
    payment_id: PaymentId,
    principal: Writer,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    body: CancelCreate | None = None,
) -> PaymentRead:
    payment = await service.get_owned(session, payment_id, principal.sub, for_update=True)
    await service.cancel(
        session,
        settings,
        payment,
        reason=body.reason if body else None,
        actor=principal,
        now=clock.now(),
    )
    return await service.read(session, settings, payment)


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
    back by bank transfer (pending for some business days); card refunds complete at once."""
    if (replay := await idem.begin(body)) is not None:
        return replay
    payment = await service.get_owned(session, payment_id, principal.sub, for_update=True)
    await service.refund(session, settings, payment, body, actor=principal, now=clock.now())
    return await idem.complete(201, await service.read(session, settings, payment))


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
    payment = await service.get_owned(session, payment_id, principal.sub, for_update=True)
    await service.card_attempt(
        session, settings, payment, body.card.number, actor=principal, now=clock.now()
    )
    return await service.read(session, settings, payment)
