"""The mock 公的個人認証 CA: an EC P-256 CA created on first use under a directory (key file
0600), issuing "My Number card" certificates, and the checks a card login goes through.

File I/O and key generation are blocking: call `MockCA.load_or_create` and `issue_card` off
the event loop (`asyncio.to_thread`) when a loop is running.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gateway.idp.errors import (
    JpkiBadCertificate,
    JpkiBadSignature,
    JpkiCertificateExpired,
    JpkiForeignCa,
)
from gateway.keys import _write_private_file

CA_KEY_FILE = "ca-key.pem"
CA_CERT_FILE = "ca-cert.pem"
CA_NAME = "cityhall mock JPKI CA (公的個人認証 模擬認証局)"
MAX_CERT_BYTES = 16_384


def serial_text(serial: int) -> str:
    return format(serial, "x")


@dataclass(frozen=True, slots=True)
class IssuedCard:
    key_pem: bytes
    cert_pem: bytes
    serial: str

    @property
    def file_text(self) -> bytes:
        """The card file: private key, then certificate (both PEM)."""
        return self.key_pem + self.cert_pem


class MockCA:
    def __init__(self, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
        self.key = key
        self.cert = cert

    @classmethod
    def create(cls, *, now: datetime | None = None) -> MockCA:
        now = now or datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "cityhall"),
                x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
            ]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(key, cert)

    @classmethod
    def load_or_create(cls, directory: Path) -> MockCA:
        key_path, cert_path = directory / CA_KEY_FILE, directory / CA_CERT_FILE
        if key_path.exists() and cert_path.exists():
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise ValueError(f"{key_path} does not hold an EC key")
            return cls(key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
        ca = cls.create()
        key_pem = ca.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_private_file(key_path, key_pem.decode("ascii"))
        cert_path.write_bytes(ca.cert.public_bytes(serialization.Encoding.PEM))
        os.chmod(cert_path, 0o644)
        return ca

    def issue_card(
        self,
        name: str,
        *,
        not_before: datetime | None = None,
        not_after: datetime | None = None,
        days: int = 365 * 5,
        extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
    ) -> IssuedCard:
        """A new card key (EC P-256) and certificate for `name` (Japanese allowed), with any
        further `(extension, critical)` pairs (the signing certificate's usage, 基本4情報)."""
        start = not_before or datetime.now(UTC) - timedelta(minutes=5)
        end = not_after or start + timedelta(days=days)
        key = ec.generate_private_key(ec.SECP256R1())
        serial = x509.random_serial_number()
        builder = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [
                        x509.NameAttribute(NameOID.COUNTRY_NAME, "JP"),
                        x509.NameAttribute(NameOID.COMMON_NAME, name),
                    ]
                )
            )
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        cert = builder.sign(self.key, hashes.SHA256())
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return IssuedCard(
            key_pem, cert.public_bytes(serialization.Encoding.PEM), serial_text(serial)
        )


def write_card(card: IssuedCard, path: Path) -> None:
    """The card file, readable by its owner only (it holds the private key)."""
    _write_private_file(path, card.file_text.decode("ascii"))


@dataclass(frozen=True, slots=True)
class CardIdentity:
    issuer: str
    serial: str
    subject: str
    common_name: str
    not_after: datetime


def parse_certificate(pem: str) -> x509.Certificate:
    if len(pem) > MAX_CERT_BYTES:
        raise JpkiBadCertificate(f"the certificate is larger than {MAX_CERT_BYTES} bytes")
    try:
        return x509.load_pem_x509_certificate(pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise JpkiBadCertificate("certificate must be one PEM-encoded X.509 certificate") from exc


def check_certificate(ca: MockCA, cert: x509.Certificate, now: datetime) -> CardIdentity:
    """Chain (directly issued by our CA), validity period against `now`. Revocation is
    checked by the caller against the database."""
    try:
        cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise JpkiForeignCa("the certificate was not issued by the city's JPKI CA") from exc
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise JpkiCertificateExpired(
            f"the certificate is valid from {cert.not_valid_before_utc.isoformat()} "
            f"until {cert.not_valid_after_utc.isoformat()}",
            not_before=cert.not_valid_before_utc.isoformat(),
            not_after=cert.not_valid_after_utc.isoformat(),
        )
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    common_name = str(names[0].value) if names else ""
    return CardIdentity(
        issuer=cert.issuer.rfc4514_string(),
        serial=serial_text(cert.serial_number),
        subject=cert.subject.rfc4514_string(),
        common_name=common_name,
        not_after=cert.not_valid_after_utc,
    )


def check_signature(cert: x509.Certificate, nonce: str, signature: bytes) -> None:
    """ECDSA-SHA256 (DER) by the card's key over the exact UTF-8 bytes of `nonce`."""
    public_key = cert.public_key()
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise JpkiBadCertificate("the card key must be an EC key")
    try:
        public_key.verify(signature, nonce.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature as exc:
        raise JpkiBadSignature("the signature does not verify over the challenge") from exc


def new_nonce() -> str:
    return secrets.token_urlsafe(32)
