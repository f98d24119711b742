from __future__ import annotations

import dataclasses

import pytest

from gateway.audit_chain.checkpoint import (
    Checkpoint,
    CheckpointInvalid,
    CheckpointPolicy,
    b64url_decode,
    b64url_encode,
    sign_checkpoint,
    verify_checkpoint,
)

from .audit_log_builder import ATTACKER_KEY, KID, PUBLIC_KEYS, SIGNING_KEY

HEAD = "ab" * 32


def _first() -> Checkpoint:
    return sign_checkpoint(SIGNING_KEY, KID, 50, HEAD, "2026-04-01T09:00:50.000000Z", None)


def _second(first: Checkpoint) -> Checkpoint:
    return sign_checkpoint(
        SIGNING_KEY, KID, 100, "cd" * 32, "2026-04-01T09:01:40.000000Z", first.signature
    )


def test_a_checkpoint_chain_verifies() -> None:
    first = _first()
    second = _second(first)
    verify_checkpoint(PUBLIC_KEYS, first, None)
    verify_checkpoint(PUBLIC_KEYS, second, first)


@pytest.mark.parametrize(
    "change",
    [
        {"head_seq": 51},
        {"head_hash": "cd" * 32},
        {"issued_at": "2026-04-01T09:00:51.000000Z"},
        {"signature": b64url_encode(b"\x00" * 64)},
        {"signature": "not base64!"},
        {"kid": "audit-unknown"},
    ],
)
def test_any_edit_to_a_checkpoint_is_refused(change: dict[str, object]) -> None:
    edited = dataclasses.replace(_first(), **change)  # type: ignore[arg-type]
    with pytest.raises(CheckpointInvalid):
        verify_checkpoint(PUBLIC_KEYS, edited, None)


def test_a_checkpoint_signed_with_another_key_under_our_kid_is_refused() -> None:
    forged = sign_checkpoint(ATTACKER_KEY, KID, 50, HEAD, "2026-04-01T09:00:50.000000Z", None)
    with pytest.raises(CheckpointInvalid, match="signature"):
        verify_checkpoint(PUBLIC_KEYS, forged, None)


def test_checkpoints_must_follow_each_other() -> None:
    first = _first()
    second = _second(first)
    with pytest.raises(CheckpointInvalid, match="previous"):
        verify_checkpoint(PUBLIC_KEYS, second, None)  # first one removed
    with pytest.raises(CheckpointInvalid, match="previous"):
        verify_checkpoint(PUBLIC_KEYS, first, second)  # order swapped


def test_checkpoints_cannot_go_back_in_seq_or_time() -> None:
    first = _first()
    earlier_seq = sign_checkpoint(
        SIGNING_KEY, KID, 49, HEAD, "2026-04-01T09:01:00.000000Z", first.signature
    )
    earlier_time = sign_checkpoint(
        SIGNING_KEY, KID, 60, HEAD, "2026-04-01T09:00:00.000000Z", first.signature
    )
    with pytest.raises(CheckpointInvalid, match="goes back"):
        verify_checkpoint(PUBLIC_KEYS, earlier_seq, first)
    with pytest.raises(CheckpointInvalid, match="dated before"):
        verify_checkpoint(PUBLIC_KEYS, earlier_time, first)


@pytest.mark.parametrize(
    ("head_seq", "head_hash", "issued_at"),
    [
        (-1, HEAD, "2026-04-01T09:00:00Z"),
        (1, "xyz", "2026-04-01T09:00:00Z"),
        (1, HEAD, "2026-04-01T09:00:00"),
        (1, HEAD, "2026-04-01 09:00:00+00:00"),
        (1, HEAD, "20260401T090000Z"),
    ],
)
def test_signing_refuses_malformed_input(head_seq: int, head_hash: str, issued_at: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        sign_checkpoint(SIGNING_KEY, KID, head_seq, head_hash, issued_at, None)


def test_base64url_accepts_only_the_canonical_spelling() -> None:
    assert b64url_decode(b64url_encode(b"\xff\xfe")) == b"\xff\xfe"
    for other_spelling in ["__4=", "__5", "__+"]:
        with pytest.raises(ValueError, match="base64url"):
            b64url_decode(other_spelling)


@pytest.mark.parametrize(
    ("events_since", "seconds_since", "due"),
    [(0, 0.0, False), (49, 59.9, False), (50, 0.0, True), (1, 60.0, True), (0, 60.0, True)],
)
def test_policy_is_due_after_n_events_or_t_seconds(
    events_since: int, seconds_since: float, due: bool
) -> None:
    assert (
        CheckpointPolicy(every_events=50, every_seconds=60).due(events_since, seconds_since) is due
    )


@pytest.mark.parametrize(("events", "seconds"), [(0, 60.0), (50, 0.0), (50, -1.0)])
def test_policy_refuses_nonsense(events: int, seconds: float) -> None:
    with pytest.raises(ValueError, match="every_"):
        CheckpointPolicy(every_events=events, every_seconds=seconds)
