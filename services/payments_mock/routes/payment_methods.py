"""The payment methods this provider simulates and their limits."""

from __future__ import annotations

from fastapi import APIRouter

from services.kit.auth import Public
from services.payments_mock.domain.methods import METHODS, MIN_AMOUNT
from services.payments_mock.schemas import PaymentMethodRead

router = APIRouter(prefix="/v1/payment-methods", tags=["payment methods"])

PAYMENT_METHODS = [
    PaymentMethodRead(
        method=m.channel,
        name_ja=m.name_ja,
        min_amount=MIN_AMOUNT,
        max_amount=m.max_amount,
        chains=list(m.chains),
    )
    for m in METHODS.values()
]


@router.get("", response_model=list[PaymentMethodRead])
async def list_payment_methods(_: Public) -> list[PaymentMethodRead]:
    return PAYMENT_METHODS
