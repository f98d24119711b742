"""Numeric codes shared by the konbini and Pay-easy channels: derivation and normalisation.

Codes are derived with HMAC-SHA256 over the payment id, so the same payment always shows the
same numbers (a reprinted slip matches the first one) while nobody without the secret can
predict another payment's numbers.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Sequence

from services.kit.errors import UnprocessableContent

_SEPARATORS = str.maketrans("", "", " -")


def derive_digits(secret: bytes, purpose: str, subject: str, length: int) -> str:
    """`length` decimal digits (leading zeros kept) that depend only on the inputs."""
    if not 1 <= length <= 60:
        raise ValueError("length must be between 1 and 60")
    mac = hmac.new(secret, f"{purpose}\x00{subject}".encode(), hashlib.sha256).digest()
    # 256 bits cover 77 decimal digits, so the reduction below is practically unbiased.
    return str(int.from_bytes(mac, "big") % 10**length).zfill(length)


def normalize_digits(raw: str, *, field: str, lengths: Sequence[int]) -> str:
    """Digits as people type them (full-width, spaces, hyphens) reduced to ASCII digits.

    Raises UnprocessableContent naming `field` when anything else remains or the length is not
    one of `lengths`.
    """
    cleaned = unicodedata.normalize("NFKC", raw).strip().translate(_SEPARATORS)
    if not cleaned.isascii() or not cleaned.isdigit():
        raise UnprocessableContent(f"{field} must contain only digits", field=field)
    if len(cleaned) not in lengths:
        if isinstance(lengths, range):
            expected = f"{lengths.start} to {lengths.stop - 1}"
        else:
            expected = " or ".join(str(n) for n in lengths)
        raise UnprocessableContent(
            f"{field} must be {expected} digits, got {len(cleaned)}", field=field
        )
    return cleaned
