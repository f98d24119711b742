"""Every single-record tampering of a 200-event log (checkpoints every 50) is detected."""

from __future__ import annotations

import dataclasses
import itertools
import tracemalloc
from collections.abc import Iterable, Iterator

import pytest

from gateway.audit_chain.canonical import canonical_bytes
from gateway.audit_chain.chain import GENESIS, ChainLink, append, link_hash
from gateway.audit_chain.checkpoint import Checkpoint, sign_checkpoint
from gateway.audit_chain.verify import AuditRecord, MalformedRecord, VerifyReport, verify

from .audit_log_builder import (
    ATTACKER_KEY,
    KID,
    PUBLIC_KEYS,
    SIGNING_KEY,
    Record,
    build_log,
    checkpoints_of,
    links_of,
    make_event,
)

LOG = build_log(events=200, every=50)
LAST_CHECKPOINT_INDEX = len(LOG) - 1


def _check(records: Iterable[AuditRecord]) -> VerifyReport:
    return verify(records, PUBLIC_KEYS)


def _assert_tampering(report: VerifyReport, what: str) -> None:
    assert not report.ok, f"not detected: {what}"
    assert report.first_bad_seq is not None
    assert report.reason


def _head_before(records: list[Record], index: int) -> tuple[int, str]:
    links = links_of(records[:index])
    return (links[-1].seq, links[-1].hash) if links else (0, GENESIS)


def _rehash_from(records: list[Record], index: int) -> list[Record]:
    """An attacker's rewrite: recompute every event hash from `index` on (they lack the key)."""
    rewritten = records[:index]
    head: ChainLink | None = next(
        (r for r in reversed(rewritten) if isinstance(r, ChainLink)), None
    )
    for record in records[index:]:
        if isinstance(record, ChainLink):
            head = append(head, record.event)
            rewritten.append(head)
        else:
            rewritten.append(record)
    return rewritten


def test_the_fixture_has_200_events_and_4_checkpoints() -> None:
    assert len(links_of(LOG)) == 200
    assert [c.head_seq for c in checkpoints_of(LOG)] == [50, 100, 150, 200]


def test_an_untouched_log_verifies_and_is_fully_anchored() -> None:
    report = _check(LOG)
    assert report.ok, report.reason
    assert (report.events, report.checkpoints, report.anchored_seq) == (200, 4, 200)
    assert report.fully_anchored
    assert report.first_bad_seq is None
    assert report.last_checkpoint_at == "2026-04-01T09:03:20.000000Z"


def test_an_empty_log_verifies() -> None:
    report = _check([])
    assert report.ok
    assert report.events == 0


def test_editing_any_event_is_detected_at_its_seq() -> None:
    for index, record in enumerate(LOG):
        if not isinstance(record, ChainLink):
            continue
        edited_event = {**record.event, "status": 500}
        tampered = [
            *LOG[:index],
            dataclasses.replace(record, event=edited_event),
            *LOG[index + 1 :],
        ]
        report = _check(tampered)
        _assert_tampering(report, f"edit of seq {record.seq}")
        assert report.first_bad_seq == record.seq
        assert report.record_index == index
        assert "edited" in report.reason


@pytest.mark.parametrize("field", ["prev_hash", "hash"])
def test_editing_any_stored_hash_is_detected(field: str) -> None:
    for index, record in enumerate(LOG):
        if isinstance(record, ChainLink):
            tampered = list(LOG)
            tampered[index] = dataclasses.replace(record, **{field: "f" * 64})  # type: ignore[arg-type]
            _assert_tampering(_check(tampered), f"{field} of seq {record.seq}")


@pytest.mark.parametrize(
    "change",
    [
        {"head_seq": 49},
        {"head_hash": "f" * 64},
        {"issued_at": "2026-04-01T09:00:00.000000Z"},
        {"kid": "audit-other"},
        {"prev_signature": "A" * 86},
        {"signature": "A" * 86},
    ],
)
def test_editing_any_checkpoint_is_detected(change: dict[str, object]) -> None:
    for index, record in enumerate(LOG):
        if isinstance(record, Checkpoint):
            tampered = list(LOG)
            tampered[index] = dataclasses.replace(record, **change)  # type: ignore[arg-type]
            report = _check(tampered)
            _assert_tampering(report, f"{change} on checkpoint at {record.head_seq}")
            assert report.first_bad_seq == record.head_seq - 49


def test_deleting_any_record_is_detected_except_the_last_checkpoint() -> None:
    for index in range(len(LOG)):
        report = _check([*LOG[:index], *LOG[index + 1 :]])
        if index == LAST_CHECKPOINT_INDEX:
            # Indistinguishable from a log that has not checkpointed yet: not tampering,
            # but the 50 events it covered are reported as unanchored.
            assert report.ok
            assert (report.anchored_seq, report.unanchored_tail) == (150, 50)
            assert "unanchored tail of 50 events" in report.reason
        else:
            _assert_tampering(report, f"deletion at index {index}")


def test_inserting_a_well_formed_forged_event_anywhere_is_detected() -> None:
    for index in range(len(LOG)):
        seq, prev_hash = _head_before(LOG, index)
        forged_event = make_event(9999)
        forged = ChainLink(
            seq=seq + 1,
            event=append(None, forged_event).event,
            prev_hash=prev_hash,
            hash=link_hash(prev_hash, canonical_bytes(forged_event)),
        )
        _assert_tampering(_check([*LOG[:index], forged, *LOG[index:]]), f"insert at {index}")


def test_appending_after_the_last_checkpoint_is_only_unanchored() -> None:
    forged = append(links_of(LOG)[-1], make_event(9999))
    report = _check([*LOG, forged])
    assert report.ok
    assert report.unanchored_tail == 1
    assert not report.fully_anchored


def test_duplicating_any_record_is_detected() -> None:
    for index, record in enumerate(LOG):
        _assert_tampering(_check([*LOG[:index], record, *LOG[index:]]), f"duplicate of {index}")


def test_swapping_any_two_neighbouring_records_is_detected() -> None:
    for index in range(len(LOG) - 1):
        tampered = list(LOG)
        tampered[index], tampered[index + 1] = tampered[index + 1], tampered[index]
        _assert_tampering(_check(tampered), f"swap of {index} and {index + 1}")


def test_moving_events_between_positions_keeping_seq_is_detected() -> None:
    links = [i for i, r in enumerate(LOG) if isinstance(r, ChainLink)]
    for a, b in itertools.pairwise(links):
        first, second = LOG[a], LOG[b]
        assert isinstance(first, ChainLink)
        assert isinstance(second, ChainLink)
        tampered = list(LOG)
        tampered[a] = dataclasses.replace(first, event=second.event)
        tampered[b] = dataclasses.replace(second, event=first.event)
        report = _check(tampered)
        _assert_tampering(report, f"event swap seq {first.seq}/{second.seq}")
        assert report.first_bad_seq == first.seq


def test_rewriting_the_chain_after_an_edit_is_caught_by_the_next_checkpoint() -> None:
    for index, record in enumerate(LOG):
        if not isinstance(record, ChainLink):
            continue
        tampered = list(LOG)
        tampered[index] = dataclasses.replace(record, event={**record.event, "actor": "nobody"})
        report = _check(_rehash_from(tampered, index))
        _assert_tampering(report, f"rewrite from seq {record.seq}")
        assert "rewritten" in report.reason
        assert report.first_bad_seq == (record.seq - 1) // 50 * 50 + 1


def test_a_checkpoint_forged_with_another_key_is_detected() -> None:
    for index, record in enumerate(LOG):
        if not isinstance(record, Checkpoint):
            continue
        forged = sign_checkpoint(
            ATTACKER_KEY,
            KID,
            record.head_seq,
            record.head_hash,
            record.issued_at,
            record.prev_signature,
        )
        report = _check([*LOG[:index], forged, *LOG[index + 1 :]])
        _assert_tampering(report, f"forged checkpoint at {record.head_seq}")
        assert "signature is not valid" in report.reason


def test_swapping_any_two_checkpoints_is_detected() -> None:
    positions = [i for i, r in enumerate(LOG) if isinstance(r, Checkpoint)]
    for a in positions:
        for b in positions:
            if a < b:
                tampered = list(LOG)
                tampered[a], tampered[b] = tampered[b], tampered[a]
                _assert_tampering(_check(tampered), f"checkpoint swap {a}/{b}")


def test_a_wrong_key_fails_verification() -> None:
    report = verify(LOG, {KID: ATTACKER_KEY.public_key()})
    assert not report.ok
    assert report.first_bad_seq == 1
    assert report.anchored_seq == 0


def test_a_truncated_tail_after_the_last_checkpoint_is_reported_not_flagged() -> None:
    log = build_log(events=210, every=50)
    assert _check(log).unanchored_tail == 10
    report = _check(log[:-4])
    assert report.ok
    assert (report.events, report.anchored_seq, report.unanchored_tail) == (206, 200, 6)
    assert "unanchored tail of 6 events" in report.reason


def test_a_log_without_checkpoints_is_all_unanchored() -> None:
    report = _check(build_log(events=30, every=50))
    assert report.ok
    assert report.unanchored_tail == 30
    assert report.last_checkpoint_at is None


def test_a_heartbeat_checkpoint_over_an_unchanged_head_verifies() -> None:
    last = checkpoints_of(LOG)[-1]
    heartbeat = sign_checkpoint(
        SIGNING_KEY, KID, last.head_seq, last.head_hash, "2026-04-01T10:03:20Z", last.signature
    )
    report = _check([*LOG, heartbeat])
    assert report.ok
    assert report.checkpoints == 5


def test_events_and_checkpoints_can_be_given_as_two_streams() -> None:
    links, checkpoints = links_of(LOG), checkpoints_of(LOG)
    assert verify(links, PUBLIC_KEYS, checkpoints=checkpoints).ok
    truncated = verify(links[:180], PUBLIC_KEYS, checkpoints=checkpoints)
    _assert_tampering(truncated, "events cut below a checkpoint")
    assert "signs seq 200 but the chain is at seq 180" in truncated.reason
    reordered = [checkpoints[1], checkpoints[0], *checkpoints[2:]]
    _assert_tampering(verify(links, PUBLIC_KEYS, checkpoints=reordered), "checkpoint order")
    dropped = [checkpoints[0], *checkpoints[2:]]
    _assert_tampering(verify(links, PUBLIC_KEYS, checkpoints=dropped), "checkpoint removed")


def test_a_malformed_record_is_a_fault_not_a_crash() -> None:
    report = _check([*LOG[:10], MalformedRecord("line is not JSON"), *LOG[10:]])
    _assert_tampering(report, "malformed record")
    assert report.first_bad_seq == 11
    float_event = dataclasses.replace(links_of(LOG)[0], event={"latency": 1.5})  # type: ignore[dict-item]
    assert "not canonical" in _check([float_event]).reason


def test_verification_streams_in_constant_memory() -> None:
    def long_log(count: int) -> Iterator[Record]:
        head: ChainLink | None = None
        checkpoint: Checkpoint | None = None
        for n in range(1, count + 1):
            head = append(head, make_event(n))
            yield head
            if n % 100 == 0:
                checkpoint = sign_checkpoint(
                    SIGNING_KEY,
                    KID,
                    head.seq,
                    head.hash,
                    "2026-04-01T09:00:00Z",
                    None if checkpoint is None else checkpoint.signature,
                )
                yield checkpoint

    def peak_bytes(count: int) -> int:
        tracemalloc.start()
        try:
            report = verify(long_log(count), PUBLIC_KEYS)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert report.ok
        assert report.events == count
        return peak

    small, large = peak_bytes(300), peak_bytes(3_000)
    assert large < small * 1.5 + 64_000, (small, large)
