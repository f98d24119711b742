"""Streaming verification of an audit log: one pass, constant memory, stops at the first fault.

The verifier walks events and checkpoints in log order (a checkpoint right after the event it
signs, as the log emits them) and keeps only the chain head and the last good checkpoint:

- an edited event no longer matches its hash;
- a deleted, inserted or reordered record breaks the contiguous `seq` or the `prev_hash` link;
- a forged checkpoint fails its signature (or names an unknown key); a removed, inserted or
  swapped checkpoint breaks the `prev_signature` link or signs a head that is not the chain's
  head at that point; a chain cut short below a checkpoint leaves that checkpoint pointing past it.

Events after the last checkpoint are hash-chained but unsigned: cutting them off (or rewriting
them all) cannot be told apart from a log that simply has not checkpointed yet. They are
reported as an unanchored tail, not as tampering; `anchored_seq` says what is proven.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gateway.audit_chain.canonical import CanonicalizationError, canonical_bytes
from gateway.audit_chain.chain import GENESIS, ChainLink, link_hash
from gateway.audit_chain.checkpoint import Checkpoint, CheckpointInvalid, verify_checkpoint


@dataclass(frozen=True, slots=True)
class MalformedRecord:
    """A stored record that could not be decoded; the verifier reports it as a fault."""

    reason: str


AuditRecord = ChainLink | Checkpoint | MalformedRecord


class KeySource(StrEnum):
    TRUSTED = "trusted"
    """Keys the caller supplied: a valid signature proves who signed."""
    EMBEDDED = "embedded"
    """Keys read from the file under test: proves consistency only, not authorship."""


@dataclass(frozen=True, slots=True)
class VerifyReport:
    ok: bool
    """False when tampering (or a malformed record) was found."""
    reason: str
    events: int
    """Events verified before stopping (all of them when ok)."""
    checkpoints: int
    """Checkpoints verified before stopping."""
    anchored_seq: int
    """Every event up to this seq is covered by a valid checkpoint."""
    unanchored_tail: int
    """Events after `anchored_seq` that verified as a chain but carry no signature yet."""
    first_bad_seq: int | None = None
    """Where the fault is: the failing event's seq, or for a bad checkpoint the first seq it
    would have anchored (`anchored_seq + 1`)."""
    record_index: int | None = None
    """0-based position of the offending record in the (interleaved) stream."""
    last_checkpoint_at: str | None = None
    key_source: KeySource = KeySource.TRUSTED

    @property
    def fully_anchored(self) -> bool:
        return self.ok and self.unanchored_tail == 0


def interleave(
    links: Iterable[ChainLink], checkpoints: Iterable[Checkpoint]
) -> Iterator[AuditRecord]:
    """Merge events and checkpoints kept apart (two tables) into log order, lazily.

    Each checkpoint is placed before the first event past its head; checkpoints pointing past the
    last event come out at the end, where the verifier reports them.
    """
    pending_checkpoints = iter(checkpoints)
    pending = next(pending_checkpoints, None)
    for link in links:
        while pending is not None and pending.head_seq < link.seq:
            yield pending
            pending = next(pending_checkpoints, None)
        yield link
    while pending is not None:
        yield pending
        pending = next(pending_checkpoints, None)


class _Fault(Exception):
    def __init__(self, seq: int, reason: str) -> None:
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


class _Verifier:
    def __init__(self, public_keys: Mapping[str, Ed25519PublicKey]) -> None:
        self.public_keys = public_keys
        self.head_seq = 0
        self.head_hash = GENESIS
        self.last_checkpoint: Checkpoint | None = None
        self.checkpoints = 0

    @property
    def anchored_seq(self) -> int:
        return 0 if self.last_checkpoint is None else self.last_checkpoint.head_seq

    def take_link(self, link: ChainLink) -> None:
        expected = self.head_seq + 1
        if link.seq != expected:
            if link.seq < expected:
                why = "repeats or goes back: a record was inserted or reordered"
            else:
                why = "skips ahead: records were deleted or reordered"
            raise _Fault(expected, f"expected seq {expected}, found {link.seq}; the sequence {why}")
        if link.prev_hash != self.head_hash:
            raise _Fault(
                expected,
                f"seq {expected}: prev_hash does not match the hash of seq {expected - 1};"
                " a record was deleted, inserted or reordered",
            )
        try:
            computed = link_hash(self.head_hash, canonical_bytes(link.event))
        except CanonicalizationError as exc:
            raise _Fault(expected, f"seq {expected}: event is not canonical JSON ({exc})") from exc
        if computed != link.hash:
            raise _Fault(
                expected, f"seq {expected}: event does not match its hash; the event was edited"
            )
        self.head_seq = expected
        self.head_hash = link.hash

    def take_checkpoint(self, checkpoint: Checkpoint) -> None:
        first_unanchored = self.anchored_seq + 1
        try:
            verify_checkpoint(self.public_keys, checkpoint, self.last_checkpoint)
        except CheckpointInvalid as exc:
            raise _Fault(first_unanchored, str(exc)) from exc
        if checkpoint.head_seq != self.head_seq:
            raise _Fault(
                first_unanchored,
                f"checkpoint signs seq {checkpoint.head_seq} but the chain is at seq"
                f" {self.head_seq} here; events were deleted or inserted, or the checkpoint moved",
            )
        if checkpoint.head_hash != self.head_hash:
            raise _Fault(
                first_unanchored,
                f"checkpoint at seq {checkpoint.head_seq} signs a different head hash than the"
                " chain's; events up to it were rewritten",
            )
        self.last_checkpoint = checkpoint
        self.checkpoints += 1

    def report(self, fault: _Fault | None = None, record_index: int | None = None) -> VerifyReport:
        tail = self.head_seq - self.anchored_seq
        if fault is not None:
            reason = fault.reason
        elif self.head_seq == 0:
            reason = "log is empty"
        elif tail == 0:
            reason = f"intact: {self.head_seq} events, all anchored by signed checkpoints"
        else:
            reason = (
                f"intact, with an unanchored tail of {tail} events after seq {self.anchored_seq}:"
                " they chain correctly but no checkpoint signs them yet, so their truncation"
                " or rewriting could not be detected"
            )
        return VerifyReport(
            ok=fault is None,
            reason=reason,
            events=self.head_seq,
            checkpoints=self.checkpoints,
            anchored_seq=self.anchored_seq,
            unanchored_tail=tail,
            first_bad_seq=None if fault is None else fault.seq,
            record_index=record_index,
            last_checkpoint_at=None
            if self.last_checkpoint is None
            else self.last_checkpoint.issued_at,
        )


def verify(
    records: Iterable[AuditRecord],
    public_keys: Mapping[str, Ed25519PublicKey],
    *,
    checkpoints: Iterable[Checkpoint] | None = None,
) -> VerifyReport:
    """Verify a log given in log order, or as events plus `checkpoints` kept separately."""
    stream = records if checkpoints is None else interleave(_links_only(records), checkpoints)
    verifier = _Verifier(public_keys)
    for index, record in enumerate(stream):
        try:
            if isinstance(record, ChainLink):
                verifier.take_link(record)
            elif isinstance(record, Checkpoint):
                verifier.take_checkpoint(record)
            elif isinstance(record, MalformedRecord):
                raise _Fault(verifier.head_seq + 1, f"malformed record: {record.reason}")
            else:
                raise TypeError(f"not an audit record: {type(record).__name__}")
        except _Fault as fault:
            return verifier.report(fault, index)
    return verifier.report()


def _links_only(records: Iterable[AuditRecord]) -> Iterator[ChainLink]:
    for record in records:
        if not isinstance(record, ChainLink):
            raise TypeError("with separate checkpoints, records must be events only")
        yield record
