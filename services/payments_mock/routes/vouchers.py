"""The printable voucher page of a konbini payment, opened by the payer's browser."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from services.kit.auth import Public
from services.kit.deps import SessionDep
from services.kit.errors import NotFound
from services.payments_mock import payment_reads as reads
from services.payments_mock import voucher
from services.payments_mock.deps import PaymentId, SettingsDep
from services.payments_mock.domain.lifecycle import Channel
from services.payments_mock.models import Payment

router = APIRouter(prefix="/v1/payments", tags=["vouchers"])


@router.get("/{payment_id}/voucher", response_class=HTMLResponse)
async def voucher_page(
    payment_id: PaymentId,
    session: SessionDep,
    settings: SettingsDep,
    _: Public,
    token: Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")],
) -> HTMLResponse:
    """Public, but only with the unguessable `token` from the payment's `voucher_url`."""
    payment = await session.get(Payment, payment_id)
    if (
        payment is None
        or payment.method != Channel.KONBINI
        or not reads.voucher_token_valid(settings, payment_id, token)
    ):
        raise NotFound("no voucher here")
    html = voucher.render(payment, reads.konbini_details(settings, payment))
    return HTMLResponse(html, headers={"Cache-Control": "private, no-store"})
