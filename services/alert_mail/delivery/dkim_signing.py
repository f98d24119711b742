"""Optional DKIM signatures (dkimpy), so residents can tell the city's mail from spoofs.

The signature covers the headers RFC 8058 requires for one-click unsubscribe as well as the
usual identity headers. rsa-sha256 takes a PEM key; ed25519-sha256 a base64 raw 32-byte key
(dkimpy signs it with PyNaCl, a dependency for that reason)."""

from __future__ import annotations

from dataclasses import dataclass

SIGNED_HEADERS: tuple[bytes, ...] = (
    b"From",
    b"To",
    b"Subject",
    b"Date",
    b"Message-ID",
    b"List-Unsubscribe",
    b"List-Unsubscribe-Post",
    b"MIME-Version",
    b"Content-Type",
)


@dataclass(frozen=True, slots=True)
class DkimSigner:
    selector: str
    domain: str
    private_key: bytes
    algorithm: bytes

    @classmethod
    def from_key(cls, selector: str, domain: str, key: str) -> DkimSigner:
        is_pem = "-----BEGIN" in key
        return cls(
            selector=selector,
            domain=domain,
            private_key=key.strip().encode("ascii"),
            algorithm=b"rsa-sha256" if is_pem else b"ed25519-sha256",
        )

    def sign(self, message: bytes) -> bytes:
        """The message with its DKIM-Signature header prepended."""
        present = {line.split(b":", 1)[0].strip().lower() for line in _header_lines(message)}
        headers = [h for h in SIGNED_HEADERS if h.lower() in present]
        import dkim  # with dnspython and PyNaCl behind it: only where a key is configured

        signature: bytes = dkim.sign(
            message,
            self.selector.encode("ascii"),
            self.domain.encode("ascii"),
            self.private_key,
            canonicalize=(b"relaxed", b"relaxed"),
            signature_algorithm=self.algorithm,
            include_headers=headers,
            linesep=b"\r\n",
        )
        return signature + message


def _header_lines(message: bytes) -> list[bytes]:
    head = message.split(b"\r\n\r\n", 1)[0]
    return [line for line in head.split(b"\r\n") if line and not line[:1].isspace()]
