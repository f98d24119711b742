"""到達番号 and 問合せ番号: the reference `YYYY-NNNNNN` a submission gets, and the access code
that lets an applicant without an account read its status."""

from __future__ import annotations

import hashlib
import hmac
import secrets

_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone
CODE_LENGTH = 12
REFERENCE_PATTERN = r"^[0-9]{4}-[0-9]{6}$"
MAX_PER_YEAR = 999_999


def reference(year: int, number: int) -> str:
    if not 1 <= number <= MAX_PER_YEAR:
        raise ValueError(f"reference numbers of {year} are exhausted")
    return f"{year:04d}-{number:06d}"


def new_access_code() -> str:
    """60 random bits, shown once as `XXXX-XXXX-XXXX`."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(code: str) -> str:
    return code.replace("-", "").replace(" ", "").upper()


def hash_code(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def code_matches(code: str, stored_hash: str | None) -> bool:
    return stored_hash is not None and hmac.compare_digest(hash_code(code), stored_hash)
