"""The mock 公的個人認証 signing certificate's 基本4情報 (name, address, birth date, sex):
one extension under the mock CA's private arc, holding UTF-8 JSON. The gateway's CA writes
it, services read it; both take the encoding from here."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from cryptography import x509

# Fictional, like the CA itself: a private-enterprise arc nobody has been assigned for this.
BASIC_INFO_OID = x509.ObjectIdentifier("1.3.6.1.4.1.55555.1.1")


@dataclass(frozen=True, slots=True)
class BasicInfo:
    name: str
    address: str | None = None
    birth_date: str | None = None  # ISO date
    sex: str | None = None  # male | female

    def extension(self) -> x509.UnrecognizedExtension:
        value = json.dumps(asdict(self), ensure_ascii=False, sort_keys=True).encode("utf-8")
        return x509.UnrecognizedExtension(BASIC_INFO_OID, value)


def basic_info_of(cert: x509.Certificate) -> BasicInfo | None:
    """The 基本4情報 a certificate carries, or None when it has none (e.g. a login cert)."""
    try:
        extension = cert.extensions.get_extension_for_oid(BASIC_INFO_OID).value
    except x509.ExtensionNotFound:
        return None
    if not isinstance(extension, x509.UnrecognizedExtension):
        return None
    try:
        data = json.loads(extension.value.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        return None

    def text(key: str) -> str | None:
        value = data.get(key)
        return value if isinstance(value, str) else None

    return BasicInfo(
        name=data["name"],
        address=text("address"),
        birth_date=text("birth_date"),
        sex=text("sex"),
    )
