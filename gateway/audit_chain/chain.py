"""The hash chain: each link commits to everything before it.

`hash = SHA-256(prev_hash || canonical_event)`, hex-encoded. `prev_hash` always has 64 hex
characters, so the concatenation is unambiguous. `seq` is not hashed: it is the position in the
chain (contiguous from 1), and a signed checkpoint over `(seq, hash)` pins that position.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gateway.audit_chain.canonical import JsonValue, canonical_bytes

GENESIS = "0" * 64
"""The `prev_hash` of the first link."""

_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class ChainLink:
    seq: int
    event: dict[str, JsonValue]
    prev_hash: str
    hash: str


def is_hex_digest(value: object) -> bool:
    return isinstance(value, str) and _HEX_DIGEST.fullmatch(value) is not None


def link_hash(prev_hash: str, canonical_event: bytes) -> str:
    if not is_hex_digest(prev_hash):
        raise ValueError("prev_hash must be 64 lowercase hex characters")
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_event).hexdigest()


def link_hashes(prev_hash: str, canonical_events: Iterable[str]) -> list[str]:
    """`link_hash` along a run of events, each given as its canonical JSON text: the hash of
    every link, the first one following `prev_hash`."""
    if not is_hex_digest(prev_hash):
        raise ValueError("prev_hash must be 64 lowercase hex characters")
    hashes: list[str] = []
    sha256 = hashlib.sha256
    for text in canonical_events:
        # prev_hash is ASCII, so one encode of the concatenation gives the same bytes.
        prev_hash = sha256((prev_hash + text).encode("utf-8")).hexdigest()
        hashes.append(prev_hash)
    return hashes


def append(prev: ChainLink | None, event: Mapping[str, object]) -> ChainLink:
    """The link that follows `prev` (or starts the chain when `prev` is None)."""
    encoded = canonical_bytes(event)
    prev_hash = GENESIS if prev is None else prev.hash
    # The stored event is decoded from the hashed bytes: a deep copy that the caller cannot
    # mutate afterwards, in exactly the shape an importer will see.
    stored: dict[str, JsonValue] = json.loads(encoded)
    return ChainLink(
        seq=1 if prev is None else prev.seq + 1,
        event=stored,
        prev_hash=prev_hash,
        hash=link_hash(prev_hash, encoded),
    )
