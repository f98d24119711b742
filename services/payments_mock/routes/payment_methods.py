"""The payment methods this provider simulates and their limits."""

from __future__ import annotations

from fastapi import APIRouter

from services.kit.auth import Public
from services.kit.pagination import Page
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


@router.get("", response_model=Page[PaymentMethodRead])
async def list_payment_methods(_: Public) -> Page[PaymentMethodRead]:
    """Shaped like every list; the three methods always fit on one page."""
    return Page(items=PAYMENT_METHODS, next_cursor=None)
