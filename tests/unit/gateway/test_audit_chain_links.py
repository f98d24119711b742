from __future__ import annotations

import hashlib
import itertools
import json

import pytest

from gateway.audit_chain.canonical import canonical_bytes
from gateway.audit_chain.chain import GENESIS, append, link_hash

from .audit_log_builder import build_log, links_of, make_event


def test_chain_starts_at_genesis_with_contiguous_seq() -> None:
    links = links_of(build_log(events=5, every=100))
    assert links[0].prev_hash == GENESIS == "0" * 64
    assert [link.seq for link in links] == [1, 2, 3, 4, 5]
    for before, after in itertools.pairwise(links):
        assert after.prev_hash == before.hash


def test_hash_is_sha256_of_prev_hash_then_canonical_event() -> None:
    event = {"id": "evt_1", "status": 200, "actor": "staff:1"}
    link = append(None, event)
    expected_bytes = json.dumps(event, sort_keys=True, separators=(",", ":")).encode()
    assert link.hash == hashlib.sha256(GENESIS.encode() + expected_bytes).hexdigest()
    assert link.hash == link_hash(GENESIS, canonical_bytes(event))


def test_stored_event_is_a_copy_the_caller_cannot_change() -> None:
    event = make_event(1)
    link = append(None, event)
    event["details"]["procedure"] = "changed after logging"
    assert link.event["details"] == {
        "latency_ms": 4,
        "procedure": "住民票の写し交付申請",
        "retry": False,
    }
    assert link.hash == link_hash(GENESIS, canonical_bytes(link.event))


@pytest.mark.parametrize("prev", ["", "0" * 63, "A" * 64, "g" * 64, "0" * 65])
def test_link_hash_refuses_a_malformed_prev_hash(prev: str) -> None:
    with pytest.raises(ValueError, match="prev_hash"):
        link_hash(prev, b"{}")
