"""The payment methods this provider simulates and their limits."""

from __future__ import annotations

from fastapi import APIRouter

from services.kit.auth import Public
from services.payments_mock.schemas import PaymentMethodRead

router = APIRouter(prefix="/v1/payment-methods", tags=["payment methods"])

KONBINI_CHAINS = ["seven_eleven", "lawson", "familymart", "ministop", "dailyyamazaki", "seicomart"]

METHODS = [
    PaymentMethodRead(
        method="konbini",
        name_ja="コンビニ払い",
        min_amount=1,
        max_amount=999_999,
        chains=KONBINI_CHAINS,
    ),
    PaymentMethodRead(method="payeasy", name_ja="ペイジー", min_amount=1, max_amount=999_999),
    PaymentMethodRead(
        method="card", name_ja="クレジットカード", min_amount=1, max_amount=9_999_999
    ),
]


@router.get("", response_model=list[PaymentMethodRead])
async def list_payment_methods(_: Public) -> list[PaymentMethodRead]:
    return METHODS
