"""The mock JPKI CA's public documents: its certificate and its revocation list, which
services fetch to verify signed filings (as relying parties fetch a real CA's CRL)."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization
from fastapi import APIRouter
from starlette.responses import Response

from gateway.idp.deps import IdpDep
from gateway.idp.jpki_signing import build_crl
from services.kit.auth import Public
from services.kit.errors import ServiceUnavailable

router = APIRouter(prefix="/jpki", tags=["jpki"])
_NO_STORE = {"Cache-Control": "no-cache"}


@router.get(
    "/ca.pem",
    response_class=Response,
    responses={200: {"content": {"application/x-pem-file": {}}}},
    summary="The mock JPKI CA certificate (PEM)",
)
async def ca_certificate(idp: IdpDep, _: Public) -> Response:
    if idp.ca is None:
        raise ServiceUnavailable("the JPKI CA is not loaded")
    pem = idp.ca.cert.public_bytes(serialization.Encoding.PEM)
    return Response(pem, media_type="application/x-pem-file", headers=_NO_STORE)


@router.get(
    "/crl.pem",
    response_class=Response,
    responses={200: {"content": {"application/x-pem-file": {}}}},
    summary="The mock JPKI CA's certificate revocation list (PEM, signed by the CA)",
)
async def revocation_list(idp: IdpDep, _: Public) -> Response:
    if idp.ca is None:
        raise ServiceUnavailable("the JPKI CA is not loaded")
    revoked = [(r.serial, r.revoked_at) for r in await idp.jpki.revocations()]
    pem = build_crl(idp.ca, revoked, now=idp.ctx.now())
    return Response(pem, media_type="application/x-pem-file", headers=_NO_STORE)
