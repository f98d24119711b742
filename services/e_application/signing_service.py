"""Signed filings: the payload an applicant's card signs, its verification at submission
against the CA and revocation list the gateway publishes, and later re-verification."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from services.e_application.attachments_service import attachments_of
from services.e_application.domain import signatures
from services.e_application.models import Application
from services.e_application.schemas.applications import SignatureInput
from services.kit.errors import ServiceUnavailable

CA_PATH = "/jpki/ca.pem"
CRL_PATH = "/jpki/crl.pem"


class TrustSource(Protocol):
    async def trust(self) -> signatures.Trust: ...


@dataclass(slots=True)
class StaticTrust:
    """A fixed CA and CRL (tests that issue their own cards, offline verification)."""

    value: signatures.Trust

    async def trust(self) -> signatures.Trust:
        return self.value


class RemoteTrust:
    """The gateway's CA certificate and CRL over HTTP, kept `ttl` seconds, so a revocation
    reaches submissions within that time."""

    def __init__(self, client: httpx.AsyncClient, gateway_url: str, *, ttl: float = 30.0) -> None:
        self.client = client
        self.gateway_url = gateway_url.rstrip("/")
        self.ttl = ttl
        self._cached: signatures.Trust | None = None
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()

    async def trust(self) -> signatures.Trust:
        if self._cached is not None and time.monotonic() - self._fetched_at < self.ttl:
            return self._cached
        async with self._lock:
            if self._cached is not None and time.monotonic() - self._fetched_at < self.ttl:
                return self._cached
            try:
                ca = await self.client.get(f"{self.gateway_url}{CA_PATH}")
                crl = await self.client.get(f"{self.gateway_url}{CRL_PATH}")
                ca.raise_for_status()
                crl.raise_for_status()
                self._cached = signatures.load_trust(ca.content, crl.content)
            except (httpx.HTTPError, ValueError) as exc:
                raise ServiceUnavailable(
                    "the JPKI CA certificate or revocation list cannot be fetched"
                ) from exc
            self._fetched_at = time.monotonic()
            return self._cached


async def payload_of(session: AsyncSession, application: Application) -> bytes:
    files = await attachments_of(session, application.id)
    return signatures.canonical_payload(
        application.id,
        application.procedure_code,
        application.procedure_version,
        application.form,
        [(a.id, a.sha256) for a in files if a.kind != "issued"],
    )


async def verify_for_submission(
    session: AsyncSession,
    source: TrustSource,
    application: Application,
    signature: SignatureInput,
    now: datetime,
) -> dict[str, Any]:
    """The stored record of a signature that holds now; SignatureRejected (422) otherwise."""
    payload = await payload_of(session, application)
    signer = signatures.verify(
        await source.trust(), signature.certificate, signature.signature, payload, now
    )
    return {
        "certificate": signature.certificate,
        "signature": signature.signature,
        "signed_at": now.isoformat(),
        "payload_sha256": signatures.payload_digest(payload),
        "serial": signer.serial,
        "signer": signer.basic_info(),
    }


async def reverify(
    session: AsyncSession, source: TrustSource, application: Application, now: datetime
) -> dict[str, Any]:
    assert application.signature is not None
    payload = await payload_of(session, application)
    return signatures.reverify(await source.trust(), application.signature, payload, now)


def prefill(spec_prefill: dict[str, str], certificate_pem: str) -> dict[str, Any]:
    """券面事項入力補助: form answers taken from the card's signing certificate."""
    signer = signatures.signer_of(signatures.parse_certificate(certificate_pem))
    info = signer.basic_info()
    answers: dict[str, Any] = {}
    for pointer, field in spec_prefill.items():
        value = info.get(field)
        if value is not None:
            answers[pointer.lstrip("/").split("/")[0]] = value
    return answers
