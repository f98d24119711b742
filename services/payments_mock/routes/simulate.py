"""Simulated payers, for tests and demos; every route refuses outside simulation.

A client acts only on its own payments (another client's is a 404, like a wrong number);
operators (admin, `sim`, `payments:simulate`) on any. Nothing here moves the clock: that is
the gateway's `/sim/clock`, for every service at once."""

from __future__ import annotations

from fastapi import APIRouter

from services.kit.auth import Principal
from services.kit.deps import ClockDep, SessionDep
from services.kit.errors import UnprocessableContent
from services.payments_mock import payment_reads as reads
from services.payments_mock import payment_sweeps as sweeps
from services.payments_mock import payments_service as service
from services.payments_mock.deps import PaymentId, SettingsDep, Simulator, is_operator
from services.payments_mock.models import Payment
from services.payments_mock.schemas import (
    KonbiniPayCreate,
    LatePaymentCreate,
    PayEasyPayCreate,
    PaymentRead,
    RegisterReceipt,
)

router = APIRouter(prefix="/v1/simulate", tags=["simulation"])


def _owner_filter(principal: Principal) -> str | None:
    return None if is_operator(principal) else principal.sub


async def _payment_for(session: SessionDep, payment_id: str, principal: Principal) -> Payment:
    if is_operator(principal):
        return await reads.load(session, payment_id, for_update=True)
    return await reads.get_owned(session, payment_id, principal.sub, for_update=True)


@router.post("/konbini/payments", response_model=RegisterReceipt)
async def pay_at_konbini(
    body: KonbiniPayCreate,
    principal: Simulator,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> RegisterReceipt:
    """A payer pays at `chain`, by the scanned barcode or by payment code (+ confirmation
    number). `paid_at` (default now) before the deadline of an already expired payment makes
    a late payment. The answer is the payer's receipt, not the biller's record."""
    if (body.barcode is None) == (body.payment_code is None):
        raise UnprocessableContent("give barcode or payment_code", field="barcode")
    code = body.barcode if body.barcode is not None else body.payment_code
    assert code is not None
    now = clock.now()
    payment = await service.find_konbini(
        session, body.chain, code, body.confirmation_number, owner=_owner_filter(principal)
    )
    if body.paid_at is not None and body.paid_at.tzinfo is None:
        raise UnprocessableContent("paid_at needs a UTC offset", field="paid_at")
    await service.pay_at_register(
        session,
        settings,
        payment,
        paid_at=body.paid_at or now,
        via=body.chain,
        actor=principal,
        now=now,
    )
    return reads.receipt(payment)


@router.post("/payeasy/payments", response_model=RegisterReceipt)
async def pay_by_payeasy(
    body: PayEasyPayCreate,
    principal: Simulator,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> RegisterReceipt:
    """A payer keys 収納機関番号, お客様番号 and 確認番号 in at an ATM or in net banking."""
    now = clock.now()
    payment = await service.find_payeasy(
        session,
        settings,
        body.institution_number,
        body.customer_number,
        body.confirmation_number,
        owner=_owner_filter(principal),
    )
    await service.pay_at_register(
        session, settings, payment, paid_at=now, via=body.channel, actor=principal, now=now
    )
    return reads.receipt(payment)


@router.post("/payments/{payment_id}/late-payment", response_model=PaymentRead)
async def late_payment(
    payment_id: PaymentId,
    principal: Simulator,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    body: LatePaymentCreate | None = None,
) -> PaymentRead:
    """An expired konbini payment whose payer paid at the register just before the deadline:
    the store's notice arrives now (paid, `late: true`, listed in the discrepancies)."""
    body = body or LatePaymentCreate()
    payment = await _payment_for(session, payment_id, principal)
    await service.late_payment(
        session,
        settings,
        payment,
        chain=body.chain,
        minutes_before_expiry=body.minutes_before_expiry,
        actor=principal,
        now=clock.now(),
    )
    return await reads.read(session, settings, payment)


@router.post("/payments/{payment_id}/expire", response_model=PaymentRead)
async def force_expiry(
    payment_id: PaymentId,
    principal: Simulator,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> PaymentRead:
    """Expires this payment now, as the expiry sweep would at its deadline: the deadline is
    brought forward to now. No clock moves; every other payment keeps its own deadline."""
    payment = await _payment_for(session, payment_id, principal)
    await sweeps.force_expiry(session, settings, payment, now=clock.now())
    return await reads.read(session, settings, payment)
