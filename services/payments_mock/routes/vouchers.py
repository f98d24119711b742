"""The printable voucher page of a konbini payment, opened by the payer's browser, and its
GS1-128 barcode on its own as an SVG image (for a client's page: the demo portal's voucher)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, Response

from services.kit.auth import Public
from services.kit.deps import SessionDep
from services.kit.errors import NotFound
from services.payments_mock import payment_reads as reads
from services.payments_mock import voucher
from services.payments_mock.deps import PaymentId, SettingsDep
from services.payments_mock.domain import barcode_render
from services.payments_mock.domain.lifecycle import Channel
from services.payments_mock.models import Payment

router = APIRouter(prefix="/v1/payments", tags=["vouchers"])


VoucherToken = Annotated[str, Query(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")]
SVG_HEADERS = {
    "Cache-Control": "private, no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
}


async def _konbini_payment(
    session: SessionDep, settings: SettingsDep, payment_id: str, token: str
) -> Payment:
    payment = await session.get(Payment, payment_id)
    if (
        payment is None
        or payment.method != Channel.KONBINI
        or not reads.voucher_token_valid(settings, payment_id, token)
    ):
        raise NotFound("no voucher here")
    return payment


@router.get("/{payment_id}/voucher", response_class=HTMLResponse)
async def voucher_page(
    payment_id: PaymentId,
    session: SessionDep,
    settings: SettingsDep,
    _: Public,
    token: VoucherToken,
) -> HTMLResponse:
    """Public, but only with the unguessable `token` from the payment's `voucher_url`."""
    payment = await _konbini_payment(session, settings, payment_id, token)
    html = voucher.render(payment, reads.konbini_details(settings, payment))
    return HTMLResponse(html, headers={"Cache-Control": "private, no-store"})


@router.get(
    "/{payment_id}/voucher/barcode.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}},
)
async def voucher_barcode(
    payment_id: PaymentId,
    session: SessionDep,
    settings: SettingsDep,
    _: Public,
    token: VoucherToken,
) -> Response:
    """The voucher's GS1-128 barcode, drawn as on the voucher page but without the digits
    under it (the client prints `barcode_human_readable` as text); with the same `token` as
    the page (append `/barcode.svg` to the path of `voucher_url`)."""
    payment = await _konbini_payment(session, settings, payment_id, token)
    digits = reads.konbini_details(settings, payment).barcode
    svg = barcode_render.render_svg(digits, with_text=False)
    return Response(svg, media_type="image/svg+xml", headers=SVG_HEADERS)
