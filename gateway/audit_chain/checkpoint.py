"""Signed checkpoints: an Ed25519 signature over the chain head, chained to the previous one.

A checkpoint signs `(kid, head_seq, head_hash, issued_at, prev_signature)` as canonical JSON
tagged with `CHECKPOINT_PAYLOAD_TYPE`, so a signature made for anything else with the same key
(a JWT, say) can never pass as a checkpoint. Because each checkpoint includes the previous
one's signature, checkpoints form their own chain: one cannot be removed from the middle or
swapped for another without breaking the next link.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from gateway.audit_chain.canonical import canonical_bytes
from gateway.audit_chain.chain import is_hex_digest

CHECKPOINT_PAYLOAD_TYPE = "cityhall.audit.checkpoint.v1"

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})")


class CheckpointInvalid(Exception):
    """A checkpoint does not verify; `str(exc)` says why."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    kid: str
    head_seq: int
    head_hash: str
    issued_at: str
    """RFC 3339 with an offset, e.g. from `canonical.rfc3339_utc`."""
    prev_signature: str | None
    """None only for the first checkpoint of a log."""
    signature: str
    """base64url without padding, as in JOSE."""


@dataclass(frozen=True, slots=True)
class CheckpointPolicy:
    """When to sign: after `every_events` new events, or `every_seconds` after the last one.

    The time rule applies even when nothing was logged: a fresh checkpoint over an unchanged
    head is what lets a reader tell a quiet log from one whose tail was cut off.
    """

    every_events: int
    every_seconds: float

    def __post_init__(self) -> None:
        if self.every_events < 1:
            raise ValueError("every_events must be at least 1")
        if not self.every_seconds > 0:
            raise ValueError("every_seconds must be positive")

    def due(self, events_since: int, seconds_since: float) -> bool:
        return events_since >= self.every_events or seconds_since >= self.every_seconds


def b64url_encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict: only the one canonical unpadded spelling of the bytes is accepted."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc
    if b64url_encode(raw) != text:
        raise ValueError("not canonical unpadded base64url")
    return raw


def parse_rfc3339(text: str) -> datetime:
    # fromisoformat alone takes many ISO 8601 spellings; RFC 3339 is one with a required offset.
    if not isinstance(text, str) or _RFC3339.fullmatch(text) is None:
        raise ValueError(f"not an RFC 3339 timestamp with an offset: {text!r}")
    return datetime.fromisoformat(text)


def checkpoint_payload(
    kid: str, head_seq: int, head_hash: str, issued_at: str, prev_signature: str | None
) -> bytes:
    """The exact bytes that are signed."""
    return canonical_bytes(
        {
            "type": CHECKPOINT_PAYLOAD_TYPE,
            "kid": kid,
            "head_seq": head_seq,
            "head_hash": head_hash,
            "issued_at": issued_at,
            "prev_signature": prev_signature,
        }
    )


def sign_checkpoint(
    private_key: Ed25519PrivateKey,
    kid: str,
    head_seq: int,
    head_hash: str,
    issued_at: str,
    prev_signature: str | None,
) -> Checkpoint:
    if head_seq < 0:
        raise ValueError("head_seq cannot be negative")
    if not is_hex_digest(head_hash):
        raise ValueError("head_hash must be 64 lowercase hex characters")
    parse_rfc3339(issued_at)
    payload = checkpoint_payload(kid, head_seq, head_hash, issued_at, prev_signature)
    return Checkpoint(
        kid=kid,
        head_seq=head_seq,
        head_hash=head_hash,
        issued_at=issued_at,
        prev_signature=prev_signature,
        signature=b64url_encode(private_key.sign(payload)),
    )


def verify_checkpoint(
    public_keys: Mapping[str, Ed25519PublicKey],
    checkpoint: Checkpoint,
    prev_checkpoint: Checkpoint | None,
) -> None:
    """Raise `CheckpointInvalid` unless `checkpoint` is authentic and follows `prev_checkpoint`.

    This checks the signature and the link to the previous checkpoint; whether the signed head
    matches the chain is the verifier's job (it alone has seen the chain).
    """
    key = public_keys.get(checkpoint.kid)
    if key is None:
        raise CheckpointInvalid(f"checkpoint signed with unknown key id {checkpoint.kid!r}")
    try:
        signature = b64url_decode(checkpoint.signature)
        payload = checkpoint_payload(
            checkpoint.kid,
            checkpoint.head_seq,
            checkpoint.head_hash,
            checkpoint.issued_at,
            checkpoint.prev_signature,
        )
        key.verify(signature, payload)
    except (InvalidSignature, ValueError) as exc:
        raise CheckpointInvalid(
            f"checkpoint at seq {checkpoint.head_seq}: signature is not valid"
        ) from exc

    expected_prev = None if prev_checkpoint is None else prev_checkpoint.signature
    if checkpoint.prev_signature != expected_prev:
        raise CheckpointInvalid(
            f"checkpoint at seq {checkpoint.head_seq} does not follow the previous checkpoint"
            " (a checkpoint was removed, inserted or swapped)"
        )
    try:
        issued_at = parse_rfc3339(checkpoint.issued_at)
    except ValueError as exc:
        raise CheckpointInvalid(f"checkpoint at seq {checkpoint.head_seq}: bad issued_at") from exc
    if prev_checkpoint is not None:
        if checkpoint.head_seq < prev_checkpoint.head_seq:
            raise CheckpointInvalid(
                f"checkpoint at seq {checkpoint.head_seq} goes back before the previous"
                f" checkpoint at seq {prev_checkpoint.head_seq}"
            )
        if issued_at < parse_rfc3339(prev_checkpoint.issued_at):
            raise CheckpointInvalid(
                f"checkpoint at seq {checkpoint.head_seq} is dated before the previous one"
            )
