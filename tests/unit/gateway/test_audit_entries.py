"""Access and domain entries carry their canonical JSON, made when they are built. Access
records are printed straight from their fields (one per request, so cheaply): those bytes must
be exactly what `canonical_json` gives for the record's dict, whatever the values."""

from __future__ import annotations

import json
import random
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from gateway.audit_chain.canonical import (
    MAX_SAFE_INTEGER,
    CanonicalizationError,
    canonical_json,
    rfc3339_utc,
)
from gateway.audit_chain.chain import GENESIS, link_hash, link_hashes
from gateway.audit_log.events import access_entry, domain_entry
from gateway.ids import new_sortable_hex_id

WHEN = datetime(2026, 4, 1, 9, 30, 15, 123456, tzinfo=UTC)


def access_kwargs(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "recorded_at": WHEN,
        "actor": "citizen-7",
        "actor_kind": "citizen",
        "roles": ["resident"],
        "client_ip": "127.0.0.1",
        "method": "get",
        "route": "/v1/payments/{id}",
        "service": "payments_mock",
        "status": 200,
        "latency_ms": 3,
        "request_id": "req-1",
    }
    values.update(overrides)
    return values


def dict_of(entry_id: str, values: dict[str, Any]) -> dict[str, Any]:
    """The access record as a dict, as it was built before it was printed directly."""
    return {
        "kind": "access",
        "id": entry_id,
        "recorded_at": rfc3339_utc(values["recorded_at"]),
        "actor": values["actor"],
        "actor_kind": values["actor_kind"],
        "roles": [str(role) for role in sorted(values["roles"])],
        "client_ip": values["client_ip"],
        "method": values["method"].upper(),
        "route": values["route"][:255],
        "service": values["service"],
        "status": values["status"],
        "latency_ms": values["latency_ms"],
        "request_id": values["request_id"],
    }


TRICKY_TEXT = [
    "",
    'quote " and backslash \\',
    "controls \x00\x01\x1f\x7f\n\t\r\b\f",
    "市役所 ÄÖÜ é",
    "emoji \U0001f600 and U+2028 \u2028 U+FEFF \ufeff",
    "</script>&<>'",
    "x" * 300,
]


@pytest.mark.parametrize("text", TRICKY_TEXT)
@pytest.mark.parametrize("field", ["actor", "actor_kind", "client_ip", "route", "service"])
def test_access_records_print_the_canonical_bytes_of_their_dict(field: str, text: str) -> None:
    values = access_kwargs(**{field: text})
    entry = access_entry(**values)
    assert entry.canonical == canonical_json(dict_of(entry.event_id, values))
    assert entry.event == dict_of(entry.event_id, values)


def test_access_records_match_the_dict_over_many_random_records() -> None:
    rng = random.Random(20261121)
    alphabet = ["a", "Z", "0", " ", '"', "\\", "\x00", "\x1f", "é", "市", "\U0001f600", "\u2028"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 8)))

    def optional() -> str | None:
        return None if rng.random() < 0.3 else text()

    for _ in range(500):
        values = access_kwargs(
            recorded_at=WHEN + timedelta(microseconds=rng.randrange(10**12)),
            actor=optional(),
            actor_kind=optional(),
            roles=[text() for _ in range(rng.randrange(0, 4))],
            client_ip=optional(),
            method=rng.choice(["get", "POST", "Patch", "m-search"]),
            route=text(),
            service=text(),
            status=rng.choice([100, 200, 404, 599, 0, -1]),
            latency_ms=rng.choice([0, 1, 12345, MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]),
            request_id=optional(),
        )
        entry = access_entry(**values)
        assert entry.canonical == canonical_json(dict_of(entry.event_id, values)), values


def test_filter_columns_of_an_access_record() -> None:
    entry = access_entry(**access_kwargs(route="/v1/" + "x" * 400, method="delete"))
    assert entry.kind == "access"
    assert entry.event_id.startswith("acc_")
    assert entry.action == "http.DELETE"
    assert entry.target == "/v1/" + "x" * 251
    assert entry.actor == "citizen-7"
    assert entry.service == "payments_mock"
    assert entry.recorded_at == WHEN


@pytest.mark.parametrize(
    "overrides",
    [
        {"status": True},  # a bool is not an int in JSON
        {"latency_ms": False},
        {"roles": ("b", "a")},
        {"actor": 7},  # not a string: printed as JSON prints it
    ],
)
def test_unexpected_value_types_take_the_general_path(overrides: dict[str, Any]) -> None:
    values = access_kwargs(**overrides)
    entry = access_entry(**values)
    assert entry.canonical == canonical_json(dict_of(entry.event_id, values))


def test_integers_outside_the_safe_range_are_refused_as_before() -> None:
    with pytest.raises(CanonicalizationError):
        access_entry(**access_kwargs(latency_ms=MAX_SAFE_INTEGER + 1))


def test_a_lone_surrogate_is_written_as_a_question_mark_not_a_record_that_cannot_be_hashed() -> (
    None
):
    entry = access_entry(**access_kwargs(actor="bad\ud800sub", roles=["r\udfff"]))
    entry.canonical.encode("utf-8")  # hashable
    assert entry.event["actor"] == "bad?sub"
    assert entry.event["roles"] == ["r?"]
    assert entry.actor == "bad?sub"


def test_domain_entries_carry_the_canonical_json_of_their_event() -> None:
    entry = domain_entry(
        event_id="aud_1",
        service="payments_mock",
        shipped_by="svc-payments_mock",
        occurred_at=WHEN,
        recorded_at=WHEN,
        actor="staff-1",
        actor_kind="staff",
        roles=["clerk", "admin"],
        action="payment.refunded",
        target="pay_1",
        changes={"ratio": 0.5, "名前": "山田", "nested": {"b": 1, "a": [1, 2]}},
        request_id=None,
    )
    assert entry.canonical == canonical_json(entry.event)
    assert entry.event["changes"] == {
        "ratio": "0.5",
        "名前": "山田",
        "nested": {"a": [1, 2], "b": 1},
    }
    assert entry.event["roles"] == ["admin", "clerk"]


@pytest.mark.parametrize(
    "moment",
    [
        WHEN,
        datetime(2026, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=9))),
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(999, 5, 6, 7, 8, 9, 10, tzinfo=UTC),  # strftime's own (unpadded) spelling
        datetime(1, 1, 1, tzinfo=UTC),
    ],
)
def test_rfc3339_utc_is_the_strftime_text_it_always_was(moment: datetime) -> None:
    expected = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert rfc3339_utc(moment) == expected


def test_link_hashes_is_link_hash_along_the_run() -> None:
    texts = [canonical_json({"n": i, "s": "市役所" * i}) for i in range(5)]
    hashes = link_hashes(GENESIS, texts)
    prev = GENESIS
    for text, digest in zip(texts, hashes, strict=True):
        assert digest == link_hash(prev, text.encode("utf-8"))
        prev = digest
    with pytest.raises(ValueError, match="prev_hash"):
        link_hashes("not-a-hash", texts)


def test_sortable_ids_are_hex_unique_and_ordered_by_time() -> None:
    ids = [new_sortable_hex_id() for _ in range(2000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    stamps = [int(i[:12], 16) for i in ids]
    assert stamps == sorted(stamps)
    now_ms = datetime.now(UTC).timestamp() * 1000
    assert abs(stamps[-1] - now_ms) < 60_000


def test_entry_event_is_a_fresh_copy() -> None:
    entry = access_entry(**access_kwargs())
    event = entry.event
    event["actor"] = "someone else"
    assert entry.event["actor"] == "citizen-7"
    assert json.loads(entry.canonical)["actor"] == "citizen-7"
