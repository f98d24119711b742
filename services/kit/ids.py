"""Prefixed, time-ordered identifiers such as `pay_01JD...` (a ULID body: sortable, unguessable)."""

from __future__ import annotations

import os
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32


def _b32(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        value, rem = divmod(value, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def ulid() -> str:
    """26 characters: 48-bit millisecond timestamp + 80 random bits."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    return _b32(millis, 10) + _b32(rand, 16)


def new_id(prefix: str) -> str:
    return f"{prefix}_{ulid()}"
