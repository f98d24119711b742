"""Client side of the mock card's signing certificate: sign an application's canonical
payload (from `GET /v1/applications/{id}/signing-payload`) the way a card reader would.

Used by tests, the CLI and a front-end; no web framework here. The card file holds the
login key and certificate, then the signing key and certificate (all PEM)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

_BLOCK = re.compile(rb"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----\s*", re.DOTALL)


@dataclass(frozen=True, slots=True)
class SigningCard:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def from_pem(cls, data: bytes) -> SigningCard:
        """The second key and certificate of a card file (the first pair logs in)."""
        keys = [m.group(0) for m in _BLOCK.finditer(data) if m.group(1).endswith(b"PRIVATE KEY")]
        certs = [m.group(0) for m in _BLOCK.finditer(data) if m.group(1) == b"CERTIFICATE"]
        if len(keys) < 2 or len(certs) < 2:
            raise ValueError("the card file has no signing certificate")
        key = serialization.load_pem_private_key(keys[1], password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the signing key is not an EC key")
        return cls(key, x509.load_pem_x509_certificate(certs[1]))

    @classmethod
    def load(cls, path: Path) -> SigningCard:
        return cls.from_pem(path.read_bytes())

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def sign(self, payload: bytes) -> str:
        raw = self.key.sign(payload, ec.ECDSA(hashes.SHA256()))
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def submission(self, payload: str) -> dict[str, Any]:
        """The body of `POST /v1/applications/{id}/submit` for this signing payload."""
        return {
            "signature": {
                "certificate": self.certificate_pem,
                "signature": self.sign(payload.encode("utf-8")),
            }
        }
