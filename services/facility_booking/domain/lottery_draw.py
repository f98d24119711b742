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


WINNING_STATES = frozenset({"won", "confirmed", "released", "void"})


@dataclass(frozen=True, slots=True)
class Verdict:
    ok: bool
    problems: list[str]
    winners: list[str]


def verify(
    seed_hex: str | None,
    published_commitment: str,
    units: Mapping[str, Sequence[str]],
    entries: Sequence[Mapping[str, str]],
) -> Verdict:
    """Recomputes a drawn round from what the public API publishes: the seed must match the
    commitment, and the entries marked as winners must be exactly those the rule picks."""
    if seed_hex is None:
        return Verdict(False, ["the round has not been drawn: no seed is revealed yet"], [])
    try:
        seed = bytes.fromhex(seed_hex)
    except ValueError:
        return Verdict(False, ["the revealed seed is not hex"], [])
    problems: list[str] = []
    if commitment(seed) != published_commitment:
        problems.append("sha256(seed) does not match the published commitment")
    drawn = sorted((e for e in entries if e["status"] != "withdrawn"), key=lambda e: e["id"])
    tree = {code: frozenset(leaves) for code, leaves in units.items()}
    unknown = sorted({e["unit_code"] for e in drawn} - set(tree))
    if unknown:
        return Verdict(False, [*problems, f"entries name unknown units: {unknown}"], [])
    computed = draw(
        seed, [DrawEntry(e["id"], e["unit_code"], e["day"], e["slot_code"]) for e in drawn], tree
    )
    marked = {e["id"] for e in drawn if e["status"] in WINNING_STATES}
    for entry_id in sorted(set(computed) - marked):
        problems.append(f"{entry_id} should have won but is not marked as a winner")
    for entry_id in sorted(marked - set(computed)):
        problems.append(f"{entry_id} is marked as a winner but the draw does not pick it")
    return Verdict(not problems, problems, computed)
