"""The signing side of the mock My Number card (署名用電子証明書): a second key pair whose
certificate carries fictional 基本4情報, and the CA's certificate revocation list (CRL) that
services check signed filings against.

Key generation and signing are CPU work of a millisecond or two; file I/O stays with the
caller (`cityhall jpki issue-card`)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from gateway.idp.jpki import IssuedCard, MockCA
from services.kit.jpki_basic_info import BasicInfo

CRL_VALIDITY = timedelta(hours=1)
FICTIONAL_ADDRESS = "デモ県デモ市中央1丁目1番1号"
FICTIONAL_BIRTH_DATE = "1990-04-01"


@dataclass(frozen=True, slots=True)
class IssuedSigningCard:
    """A card with both certificates: the login one first (what `Card.load` reads), then the
    signing key and certificate."""

    login: IssuedCard
    signing: IssuedCard
    info: BasicInfo

    @property
    def file_text(self) -> bytes:
        return self.login.file_text + self.signing.file_text


def issue_signing_certificate(
    ca: MockCA,
    info: BasicInfo,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    days: int = 365 * 5,
) -> IssuedCard:
    """The card's signing certificate: the login certificate's shape, for signatures only
    (digital signature + non-repudiation), carrying the fictional 基本4情報."""
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=True,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    return ca.issue_card(
        info.name,
        not_before=not_before,
        not_after=not_after,
        days=days,
        extensions=[(usage, True), (info.extension(), False)],
    )


def issue_card_with_signing(
    ca: MockCA,
    info: BasicInfo,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
    days: int = 365 * 5,
) -> IssuedSigningCard:
    login = ca.issue_card(info.name, not_before=not_before, not_after=not_after, days=days)
    signing = issue_signing_certificate(
        ca, info, not_before=not_before, not_after=not_after, days=days
    )
    return IssuedSigningCard(login, signing, info)


def fictional_info(
    name: str, *, address: str | None = None, birth_date: str | None = None, sex: str | None = None
) -> BasicInfo:
    return BasicInfo(
        name=name,
        address=address or FICTIONAL_ADDRESS,
        birth_date=birth_date or FICTIONAL_BIRTH_DATE,
        sex=sex,
    )


def build_crl(
    ca: MockCA, revoked: Iterable[tuple[str, datetime]], *, now: datetime | None = None
) -> bytes:
    """The CA's CRL (PEM) listing every revoked serial (hex text) with its revocation time."""
    moment = now or datetime.now(UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(moment - timedelta(minutes=1))
        .next_update(moment + CRL_VALIDITY)
    )
    for serial, revoked_at in revoked:
        try:
            number = int(serial, 16)
        except ValueError:
            continue
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(number)
            .revocation_date(revoked_at)
            .build()
        )
    crl = builder.sign(ca.key, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.PEM)
