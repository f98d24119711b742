"""The verifiable lottery (抽選): a commitment `sha256(seed)` is published when a round opens;
the draw reveals the seed, and the winners are a pure function of the seed, the published
entries and the unit tree, so anyone can recompute them.

The rule: every entry gets the rank `sha256(seed || ":" || entry_id)` (ties, which need a
hash collision, fall back to the published order); in rank order an entry wins when none of
the leaf units it needs in its slot is taken by an earlier winner. A whole court therefore
competes with both of its halves.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DrawEntry:
    id: str
    unit_code: str
    day: str  # YYYY-MM-DD
    slot_code: str


def new_seed() -> bytes:
    return secrets.token_bytes(32)


def commitment(seed: bytes) -> str:
    return hashlib.sha256(seed).hexdigest()


def rank(seed: bytes, entry_id: str) -> str:
    return hashlib.sha256(seed + b":" + entry_id.encode()).hexdigest()


def draw(
    seed: bytes, entries: Sequence[DrawEntry], leaves: Mapping[str, frozenset[str]]
) -> list[str]:
    """The ids of the winning entries, in rank order."""
    order = sorted(range(len(entries)), key=lambda i: (rank(seed, entries[i].id), i))
    taken: set[tuple[str, str, str]] = set()
    winners: list[str] = []
    for i in order:
        entry = entries[i]
        cells = {(leaf, entry.day, entry.slot_code) for leaf in leaves[entry.unit_code]}
        if cells.isdisjoint(taken):
            taken |= cells
            winners.append(entry.id)
    return winners
