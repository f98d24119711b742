"""Client side of the mock JPKI card: load a card file and sign a login challenge.

Used by tests, the CLI and the demo portal; no web framework here. A card file holds the
card's private key and its certificate, both PEM (as `cityhall jpki issue-card` writes it).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


@dataclass(frozen=True, slots=True)
class Card:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def from_pem(cls, data: bytes) -> Card:
        key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise ValueError("the card file does not hold an EC private key")
        return cls(key, x509.load_pem_x509_certificate(data))

    @classmethod
    def load(cls, path: Path) -> Card:
        return cls.from_pem(path.read_bytes())

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def sign(self, nonce: str) -> str:
        """The base64url signature (ECDSA-SHA256, DER) over the UTF-8 bytes of `nonce`."""
        raw = self.key.sign(nonce.encode("utf-8"), ec.ECDSA(hashes.SHA256()))
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def token_request(self, nonce: str) -> dict[str, Any]:
        """The JSON body of `POST /auth/jpki/token` for `nonce`."""
        return {"nonce": nonce, "certificate": self.certificate_pem, "signature": self.sign(nonce)}
