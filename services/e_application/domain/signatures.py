"""公的個人認証 signatures over an application, checked against the (mock) JPKI CA.

What is signed is the canonical application: the JSON of its id, procedure and version, form
answers and the SHA-256 of each attachment, with sorted keys and no whitespace. The signer's
certificate must be issued directly by the CA, valid at the moment of signing, and absent
from the CA's revocation list (CRL, itself signed by the CA). The signing certificate carries
the holder's 基本4情報 (name, address, birth date, sex) in the mock's own extension.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.kit.errors import UnprocessableContent
from services.kit.jpki_basic_info import basic_info_of

MAX_CERT_CHARS = 16_384


class SignatureRejected(UnprocessableContent):
    slug = "signature-rejected"
    title = "The signature was not accepted"

    def __init__(self, reason: str, detail: str, /) -> None:
        super().__init__(detail, errors=[{"field": "signature", "message": detail}], reason=reason)
        self.reason = reason


def canonical_payload(
    application_id: str,
    procedure_code: str,
    procedure_version: int,
    form: Mapping[str, Any],
    attachments: Iterable[tuple[str, str]],
) -> bytes:
    document = {
        "application_id": application_id,
        "procedure": {"code": procedure_code, "version": procedure_version},
        "form": form,
        "attachments": [{"id": i, "sha256": d} for i, d in sorted(attachments)],
    }
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


@dataclass(frozen=True, slots=True)
class Trust:
    """The CA certificate and its current revocation list, as the gateway publishes them."""

    ca: x509.Certificate
    crl: x509.CertificateRevocationList

    def revocation(self, serial: int) -> x509.RevokedCertificate | None:
        return self.crl.get_revoked_certificate_by_serial_number(serial)


def load_trust(ca_pem: bytes, crl_pem: bytes) -> Trust:
    ca = x509.load_pem_x509_certificate(ca_pem)
    crl = x509.load_pem_x509_crl(crl_pem)
    public_key = ca.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or not crl.is_signature_valid(
        public_key
    ):
        raise ValueError("the revocation list is not signed by the CA")
    return Trust(ca, crl)


@dataclass(frozen=True, slots=True)
class Signer:
    serial: str
    name: str
    address: str | None
    birth_date: str | None
    sex: str | None
    not_before: datetime
    not_after: datetime

    def basic_info(self) -> dict[str, str | None]:
        return {
            "name": self.name,
            "address": self.address,
            "birth_date": self.birth_date,
            "sex": self.sex,
        }


def parse_certificate(pem: str) -> x509.Certificate:
    if len(pem) > MAX_CERT_CHARS:
        raise SignatureRejected("bad_certificate", "the certificate is too large")
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise SignatureRejected(
            "bad_certificate", "certificate must be one PEM-encoded X.509 certificate"
        ) from exc


def signer_of(cert: x509.Certificate) -> Signer:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    info = basic_info_of(cert)
    return Signer(
        serial=format(cert.serial_number, "x"),
        name=info.name if info else (str(names[0].value) if names else ""),
        address=info.address if info else None,
        birth_date=info.birth_date if info else None,
        sex=info.sex if info else None,
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def decode_signature(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise SignatureRejected("bad_signature", "signature must be base64url") from exc


def check_chain(trust: Trust, cert: x509.Certificate, at: datetime) -> None:
    try:
        cert.verify_directly_issued_by(trust.ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise SignatureRejected(
            "foreign_ca", "the certificate was not issued by the city's JPKI CA"
        ) from exc
    if not cert.not_valid_before_utc <= at <= cert.not_valid_after_utc:
        raise SignatureRejected(
            "expired",
            f"the certificate is valid from {cert.not_valid_before_utc.isoformat()} "
            f"until {cert.not_valid_after_utc.isoformat()}",
        )


def check_signature(cert: x509.Certificate, payload: bytes, signature: bytes) -> None:
    public_key = cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise SignatureRejected("bad_certificate", "the card key must be an EC key")
    try:
        public_key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise SignatureRejected(
            "bad_signature", "the signature does not verify over this application"
        ) from exc


def verify(
    trust: Trust, certificate_pem: str, signature_text: str, payload: bytes, now: datetime
) -> Signer:
    """Everything a filing needs: chain, validity now, not revoked, signature over `payload`."""
    cert = parse_certificate(certificate_pem)
    check_chain(trust, cert, now)
    if trust.revocation(cert.serial_number) is not None:
        raise SignatureRejected("revoked", "the certificate has been revoked")
    check_signature(cert, payload, decode_signature(signature_text))
    return signer_of(cert)


def payload_digest(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def reverify(
    trust: Trust, stored: Mapping[str, Any], payload: bytes, now: datetime
) -> dict[str, Any]:
    """A later check of a stored signature: each property on its own, so staff and auditors
    see why it holds or not (a revocation after the signing does not undo a valid filing)."""
    checks: dict[str, Any] = {"checked_at": now.isoformat()}
    signed_at = datetime.fromisoformat(str(stored["signed_at"]))
    cert = parse_certificate(str(stored["certificate"]))
    checks["payload_matches"] = payload_digest(payload) == stored.get("payload_sha256")
    try:
        check_signature(cert, payload, decode_signature(str(stored["signature"])))
        checks["signature_valid"] = True
    except SignatureRejected:
        checks["signature_valid"] = False
    try:
        check_chain(trust, cert, signed_at)
        checks["certificate_valid_at_signing"] = True
    except SignatureRejected as exc:
        checks["certificate_valid_at_signing"] = False
        checks["certificate_problem"] = exc.reason
    revoked = trust.revocation(cert.serial_number)
    checks["revoked"] = revoked is not None
    revoked_at = revoked.revocation_date_utc if revoked is not None else None
    checks["revoked_at"] = revoked_at.isoformat() if revoked_at else None
    checks["valid"] = bool(
        checks["payload_matches"]
        and checks["signature_valid"]
        and checks["certificate_valid_at_signing"]
        and (revoked_at is None or revoked_at > signed_at)
    )
    return checks
